#pragma once
// RFC 5321 §4.1.2 paths and mailboxes, with the RFC 6531 (SMTPUTF8) extension
// that allows UTF-8 in local parts and domain labels.
#include <optional>
#include <string>
#include <string_view>

namespace smtpsd::smtp {

struct mailbox {
  std::string local;   // as written: a dot-string, or a quoted-string with its quotes
  std::string domain;  // as written: a domain or an address literal "[…]"

  bool is_null() const { return local.empty() && domain.empty(); }
  bool is_ascii() const;
  std::string str() const { return is_null() ? std::string() : local + "@" + domain; }
  bool operator==(const mailbox&) const = default;
};

enum class path_error { none, syntax, too_long, not_utf8, no_domain };

struct path_result {
  mailbox box;
  std::size_t consumed = 0;  // octets of the input the path used, '<' to '>'
  path_error error = path_error::none;
};

// Parses "<…>" at the start of s. A null path "<>" is accepted only when
// allow_null. "<postmaster>" (no domain) reports no_domain.
path_result parse_path(std::string_view s, bool allow_null);

// Parses "local@domain" (no brackets), the whole of s.
std::optional<mailbox> parse_mailbox(std::string_view s);

bool is_valid_domain(std::string_view d);  // LDH labels or U-labels, or an address literal

// The domain as DNS knows it: lower case, U-labels converted to A-labels
// (IDNA2008, libidn2); an address literal lower-cased as it is. nullopt when
// the domain is invalid or a label cannot be converted.
std::optional<std::string> ascii_domain(std::string_view d);

// The IP address of an address literal ("[192.0.2.1]" -> "192.0.2.1",
// "[IPv6:2001:db8::1]" -> "2001:db8::1"); nullopt for anything else.
std::optional<std::string> literal_address(std::string_view d);

}  // namespace smtpsd::smtp
