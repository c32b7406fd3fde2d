#include "policy/identity.hpp"

#include <cstdlib>

#include "base/strings.hpp"
#include "smtp/address.hpp"

namespace smtpsd::policy {

namespace {

bool is_dot_atom_text(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != std::string_view::npos) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c >= 0x80 || std::string_view("!#$%&'*+-/=?^_`{|}~.").find(static_cast<char>(c)) !=
                                              std::string_view::npos))
      return false;
  return true;
}

std::string unquote_local(std::string_view local) {
  if (local.size() < 2 || local.front() != '"' || local.back() != '"') return std::string(local);
  std::string inner;
  for (std::size_t i = 1; i + 1 < local.size(); ++i) {
    if (local[i] == '\\' && i + 2 < local.size()) ++i;
    inner += local[i];
  }
  return is_dot_atom_text(inner) ? inner : std::string(local);
}

}  // namespace

std::optional<std::string> normalize_domain(std::string_view domain) { return smtp::ascii_domain(domain); }

std::optional<std::string> normalize_address(std::string_view address) {
  auto box = smtp::parse_mailbox(address);
  if (!box) return std::nullopt;
  auto domain = normalize_domain(box->domain);
  if (!domain) return std::nullopt;
  return unquote_local(box->local) + "@" + *domain;
}

std::variant<identity_spec, std::string> parse_identity(std::string_view text) {
  if (text.empty()) return std::string("is empty");
  auto at = text.rfind('@');
  if (at == std::string_view::npos) {
    auto d = normalize_domain(text);
    if (!d || d->front() == '[') return std::string("is not a domain such as example.com");
    if (d->find('.') == std::string::npos) return std::string("needs at least two labels, such as example.com");
    return identity_spec{*d, store::identity_kind::domain};
  }
  if (at == 0) return std::string("has nothing before the @ (a domain is written without it: example.com)");
  if (text.find('@') != at && text.front() != '"') return std::string("has more than one @");
  auto a = normalize_address(text);
  if (!a) return std::string("is not an address such as alice@example.com");
  return identity_spec{*a, store::identity_kind::address};
}

std::string_view domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view{} : address.substr(at + 1);
}

bool covers(const std::vector<store::identity>& identities, std::string_view normalized_address) {
  const auto domain = domain_of(normalized_address);
  for (const auto& i : identities) {
    if (i.kind == store::identity_kind::domain ? i.value == domain : i.value == normalized_address) return true;
  }
  return false;
}

}  // namespace smtpsd::policy
