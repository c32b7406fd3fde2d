#include "smtp/address.hpp"

#include <idn2.h>

#include <cstring>

#include "base/ip.hpp"
#include "base/strings.hpp"

namespace smtpsd::smtp {

namespace {

constexpr std::size_t max_local = 64;
constexpr std::size_t max_domain = 255;
constexpr std::size_t max_path = 256;

bool is_atext(unsigned char c) {
  if (c >= 0x80) return true;  // UTF-8, validated separately
  if (std::isalnum(c)) return true;
  return c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

// Dot-string = Atom *("." Atom)
bool is_dot_string(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (ch == '.') {
      if (prev == '.') return false;
    } else if (!is_atext(c)) {
      return false;
    }
    prev = ch;
  }
  return true;
}

// Returns the length of a quoted-string at the start of s, or 0.
std::size_t quoted_length(std::string_view s) {
  if (s.empty() || s[0] != '"') return 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 >= s.size()) return 0;
      auto n = static_cast<unsigned char>(s[i + 1]);
      if (n < 32 || n > 126) return 0;
      ++i;
    } else if (!(c == 32 || c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126) || c >= 0x80)) {
      return 0;
    }
  }
  return 0;
}

bool is_label(std::string_view l) {
  if (l.empty() || l.size() > 63) return false;
  if (l.front() == '-' || l.back() == '-') return false;
  for (char ch : l) {
    auto c = static_cast<unsigned char>(ch);
    if (!(std::isalnum(c) || c == '-' || c >= 0x80)) return false;
  }
  return true;
}

bool is_address_literal(std::string_view d) {
  if (d.size() < 3 || d.front() != '[' || d.back() != ']') return false;
  auto inner = d.substr(1, d.size() - 2);
  if (base::istarts_with(inner, "IPv6:")) {
    auto a = base::ip_address::parse(inner.substr(5));
    return a && !a->is_v4();
  }
  if (inner.find(':') != std::string_view::npos) return false;  // General-address-literal: not accepted
  auto a = base::ip_address::parse(inner);
  return a && a->is_v4();
}

}  // namespace

bool mailbox::is_ascii() const { return base::is_ascii(local) && base::is_ascii(domain); }

bool is_valid_domain(std::string_view d) {
  if (d.empty() || d.size() > max_domain) return false;
  if (d.front() == '[') return is_address_literal(d);
  if (!base::valid_utf8(d)) return false;
  return base::all_parts(d, '.', [](std::string_view label) { return is_label(label); });
}

std::optional<std::string> literal_address(std::string_view d) {
  if (!is_address_literal(d)) return std::nullopt;
  auto inner = d.substr(1, d.size() - 2);
  if (base::istarts_with(inner, "IPv6:")) inner.remove_prefix(5);
  return std::string(inner);
}

std::optional<std::string> ascii_domain(std::string_view d) {
  if (!is_valid_domain(d)) return std::nullopt;
  if (d.front() == '[' || base::is_ascii(d)) return base::to_lower(d);
  char* out = nullptr;
  const std::string in(d);
  if (idn2_to_ascii_8z(in.c_str(), &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK) return std::nullopt;
  std::string a = base::to_lower(out);
  idn2_free(out);
  return a;
}

std::optional<mailbox> parse_mailbox(std::string_view s) {
  std::size_t at;
  if (!s.empty() && s[0] == '"') {
    auto q = quoted_length(s);
    if (q == 0 || q >= s.size() || s[q] != '@') return std::nullopt;
    at = q;
  } else {
    at = s.rfind('@');
    if (at == std::string_view::npos) return std::nullopt;
    if (!is_dot_string(s.substr(0, at))) return std::nullopt;
  }
  auto local = s.substr(0, at);
  auto domain = s.substr(at + 1);
  if (local.size() > max_local || !is_valid_domain(domain)) return std::nullopt;
  if (!base::valid_utf8(local)) return std::nullopt;
  return mailbox{std::string(local), std::string(domain)};
}

path_result parse_path(std::string_view s, bool allow_null) {
  path_result r;
  if (s.empty() || s[0] != '<') {
    r.error = path_error::syntax;
    return r;
  }
  // Find the closing '>' while skipping quoted strings.
  std::size_t i = 1;
  std::size_t close = std::string_view::npos;
  while (i < s.size()) {
    if (s[i] == '"') {
      auto q = quoted_length(s.substr(i));
      if (q == 0) {
        r.error = path_error::syntax;
        return r;
      }
      i += q;
      continue;
    }
    if (s[i] == '>') {
      close = i;
      break;
    }
    ++i;
  }
  if (close == std::string_view::npos) {
    r.error = path_error::syntax;
    return r;
  }
  r.consumed = close + 1;
  auto inner = s.substr(1, close - 1);
  if (inner.size() + 2 > max_path) {
    r.error = path_error::too_long;
    return r;
  }
  if (inner.empty()) {
    if (!allow_null) r.error = path_error::syntax;
    return r;
  }
  // Source route "@a,@b:" is obsolete; accept and ignore it (RFC 5321 §4.1.2).
  if (inner[0] == '@') {
    auto colon = inner.find(':');
    if (colon == std::string_view::npos) {
      r.error = path_error::syntax;
      return r;
    }
    for (auto hop : base::split(inner.substr(0, colon), ',')) {
      if (hop.size() < 2 || hop[0] != '@' || !is_valid_domain(hop.substr(1))) {
        r.error = path_error::syntax;
        return r;
      }
    }
    inner = inner.substr(colon + 1);
  }
  if (!base::valid_utf8(inner)) {
    r.error = path_error::not_utf8;
    return r;
  }
  if (inner.find('@') == std::string_view::npos && is_dot_string(inner)) {
    r.box.local = std::string(inner);
    r.error = path_error::no_domain;
    return r;
  }
  auto box = parse_mailbox(inner);
  if (!box) {
    r.error = path_error::syntax;
    return r;
  }
  r.box = std::move(*box);
  return r;
}

}  // namespace smtpsd::smtp
