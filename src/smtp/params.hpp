#pragma once
// ESMTP parameters of MAIL and RCPT: SIZE (RFC 1870), BODY (6152, 3030),
// SMTPUTF8 (6531), RET/ENVID (3461), REQUIRETLS (8689) on MAIL; NOTIFY/ORCPT (3461) on RCPT;
// AUTH= (4954) is accepted and ignored.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/envelope.hpp"
#include "smtp/reply.hpp"

namespace smtpsd::smtp {

using base::body_type;
using base::dsn_notify;
using base::dsn_ret;

struct mail_params {
  std::optional<std::uint64_t> size;
  body_type body = body_type::unspecified;
  bool smtputf8 = false;
  dsn_ret ret = dsn_ret::unspecified;
  std::string envid;  // xtext as received
  bool requiretls = false;  // RFC 8689
};

namespace notify {
constexpr unsigned never = dsn_notify::never, success = dsn_notify::success, failure = dsn_notify::failure,
                   delay = dsn_notify::delay;
}

struct rcpt_params {
  dsn_notify notify;  // not given: FAILURE,DELAY
  std::string orcpt;  // "rfc822;xtext" as received
};

// Parse the text after the path. nullopt reply means success.
std::optional<reply> parse_mail_params(std::string_view text, mail_params& out);
std::optional<reply> parse_rcpt_params(std::string_view text, rcpt_params& out);

bool is_xtext(std::string_view s);
std::string xtext_decode(std::string_view s);
std::string xtext_encode(std::string_view s);

// The wire forms of the typed parameters, written once: "8BITMIME", "HDRS",
// "FAILURE,DELAY" (empty for unspecified / not given).
std::string_view to_string(body_type b);
std::string_view to_string(dsn_ret r);
std::string to_string(dsn_notify n);

}  // namespace smtpsd::smtp
