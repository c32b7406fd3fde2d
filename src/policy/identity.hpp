#pragma once
// Sender identities: a domain (every address at it) or one address. Domains
// compare case-insensitively in their IDNA A-label form (libidn2); local
// parts compare exactly.
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "store/types.hpp"

namespace smtpsd::policy {

struct identity_spec {
  std::string value;  // normalised
  store::identity_kind kind;
};

// What an operator typed, normalised; or why it is not an identity.
std::variant<identity_spec, std::string> parse_identity(std::string_view text);

// Lower case, A-labels; nullopt when not a valid domain.
std::optional<std::string> normalize_domain(std::string_view domain);
// local@domain with the domain normalised and a needlessly quoted local part
// unquoted; nullopt when not an address.
std::optional<std::string> normalize_address(std::string_view address);

bool covers(const std::vector<store::identity>& identities, std::string_view normalized_address);
std::string_view domain_of(std::string_view address);

}  // namespace smtpsd::policy
