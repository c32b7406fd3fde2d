#include "smtp/params.hpp"

#include <fmt/format.h>

#include <vector>

#include "base/strings.hpp"
#include "smtp/replies.hpp"

namespace smtpsd::smtp {

namespace {

struct param {
  std::string_view key;
  std::optional<std::string_view> value;
};

bool is_keyword(std::string_view k) {
  if (k.empty() || !std::isalnum(static_cast<unsigned char>(k[0]))) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
  return true;
}

bool is_value(std::string_view v) {
  if (v.empty()) return false;
  for (unsigned char c : v)
    if (!((c >= 33 && c <= 60) || (c >= 62 && c <= 126) || c >= 0x80)) return false;
  return base::valid_utf8(v);
}

std::optional<std::vector<param>> split_params(std::string_view text) {
  std::vector<param> out;
  const bool valid = base::all_parts(text, ' ', [&](std::string_view tok) {
    if (tok.empty()) return true;  // tolerate repeated spaces
    auto eq = tok.find('=');
    param p{tok.substr(0, eq), std::nullopt};
    if (eq != std::string_view::npos) p.value = tok.substr(eq + 1);
    if (!is_keyword(p.key) || (p.value && !is_value(*p.value))) return false;
    out.push_back(p);
    return true;
  });
  if (!valid) return std::nullopt;
  return out;
}

}  // namespace

bool is_xtext(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '+') {
      if (i + 2 >= s.size()) return false;
      for (int k = 1; k <= 2; ++k) {
        char h = s[i + static_cast<std::size_t>(k)];
        if (!((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'))) return false;
      }
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return false;
    }
  }
  return true;
}

std::string xtext_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && i + 2 < s.size()) {
      auto hex = [](char h) { return h <= '9' ? h - '0' : (h & ~0x20) - 'A' + 10; };
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string xtext_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 33 || c > 126 || c == '+' || c == '=')
      out += fmt::format("+{:02X}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

std::optional<reply> parse_mail_params(std::string_view text, mail_params& out) {
  auto params = split_params(text);
  if (!params) return replies::syntax_error("bad MAIL parameters");
  bool seen_size = false, seen_body = false, seen_ret = false, seen_envid = false, seen_auth = false;
  for (auto& p : *params) {
    auto dup = [&](bool& seen) {
      bool d = seen;
      seen = true;
      return d;
    };
    if (base::iequals(p.key, "SIZE")) {
      unsigned long long v;
      if (dup(seen_size) || !p.value || !base::parse_u64(*p.value, v)) return replies::syntax_error("bad SIZE");
      out.size = v;
    } else if (base::iequals(p.key, "BODY")) {
      if (dup(seen_body) || !p.value) return replies::syntax_error("bad BODY");
      if (base::iequals(*p.value, "7BIT"))
        out.body = body_type::seven_bit;
      else if (base::iequals(*p.value, "8BITMIME"))
        out.body = body_type::eight_bit_mime;
      else if (base::iequals(*p.value, "BINARYMIME"))
        out.body = body_type::binary_mime;
      else
        return replies::syntax_error("bad BODY");
    } else if (base::iequals(p.key, "SMTPUTF8")) {
      if (out.smtputf8 || p.value) return replies::syntax_error("bad SMTPUTF8");
      out.smtputf8 = true;
    } else if (base::iequals(p.key, "REQUIRETLS")) {
      if (out.requiretls || p.value) return replies::syntax_error("bad REQUIRETLS");
      out.requiretls = true;
    } else if (base::iequals(p.key, "RET")) {
      if (dup(seen_ret) || !p.value) return replies::syntax_error("bad RET");
      if (base::iequals(*p.value, "FULL"))
        out.ret = dsn_ret::full;
      else if (base::iequals(*p.value, "HDRS"))
        out.ret = dsn_ret::hdrs;
      else
        return replies::syntax_error("bad RET");
    } else if (base::iequals(p.key, "ENVID")) {
      if (dup(seen_envid) || !p.value || p.value->size() > 100 || !is_xtext(*p.value))
        return replies::syntax_error("bad ENVID");
      out.envid = std::string(*p.value);
    } else if (base::iequals(p.key, "AUTH")) {
      if (dup(seen_auth) || !p.value) return replies::syntax_error("bad AUTH");
    } else {
      return replies::param_not_supported(base::printable(p.key, 32));
    }
  }
  return std::nullopt;
}

std::optional<reply> parse_rcpt_params(std::string_view text, rcpt_params& out) {
  auto params = split_params(text);
  if (!params) return replies::syntax_error("bad RCPT parameters");
  bool seen_orcpt = false;
  for (auto& p : *params) {
    if (base::iequals(p.key, "NOTIFY")) {
      if (out.notify.given() || !p.value) return replies::syntax_error("bad NOTIFY");
      unsigned n = 0;
      for (auto item : base::split(*p.value, ',')) {
        unsigned bit;
        if (base::iequals(item, "NEVER"))
          bit = notify::never;
        else if (base::iequals(item, "SUCCESS"))
          bit = notify::success;
        else if (base::iequals(item, "FAILURE"))
          bit = notify::failure;
        else if (base::iequals(item, "DELAY"))
          bit = notify::delay;
        else
          return replies::syntax_error("bad NOTIFY");
        if (n & bit) return replies::syntax_error("bad NOTIFY");
        n |= bit;
      }
      if ((n & notify::never) && n != notify::never) return replies::syntax_error("bad NOTIFY");
      out.notify = dsn_notify(n);
    } else if (base::iequals(p.key, "ORCPT")) {
      if (seen_orcpt || !p.value) return replies::syntax_error("bad ORCPT");
      seen_orcpt = true;
      auto semi = p.value->find(';');
      if (semi == std::string_view::npos || semi == 0 || p.value->size() > 500 ||
          !is_xtext(p.value->substr(semi + 1)))
        return replies::syntax_error("bad ORCPT");
      out.orcpt = std::string(*p.value);
    } else {
      return replies::param_not_supported(base::printable(p.key, 32));
    }
  }
  return std::nullopt;
}

std::string_view to_string(body_type b) {
  switch (b) {
    case body_type::seven_bit: return "7BIT";
    case body_type::eight_bit_mime: return "8BITMIME";
    case body_type::binary_mime: return "BINARYMIME";
    default: return "";
  }
}

std::string_view to_string(dsn_ret r) {
  switch (r) {
    case dsn_ret::full: return "FULL";
    case dsn_ret::hdrs: return "HDRS";
    default: return "";
  }
}

std::string to_string(dsn_notify n) {
  std::string s;
  auto add = [&](dsn_notify::bit bit, const char* name) {
    if (!n.has(bit)) return;
    if (!s.empty()) s += ',';
    s += name;
  };
  add(dsn_notify::never, "NEVER");
  add(dsn_notify::success, "SUCCESS");
  add(dsn_notify::failure, "FAILURE");
  add(dsn_notify::delay, "DELAY");
  return s;
}

}  // namespace smtpsd::smtp
