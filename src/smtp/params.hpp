#pragma once
// ESMTP parameters of MAIL and RCPT: SIZE (RFC 1870), BODY (6152, 3030),
// SMTPUTF8 (6531), RET/ENVID (3461) on MAIL; NOTIFY/ORCPT (3461) on RCPT;
// AUTH= (4954) is accepted and ignored.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/reply.hpp"

namespace smtpsd::smtp {

enum class body_type { unspecified, seven_bit, eight_bit_mime, binary_mime };
enum class dsn_ret { unspecified, full, hdrs };

struct mail_params {
  std::optional<std::uint64_t> size;
  body_type body = body_type::unspecified;
  bool smtputf8 = false;
  dsn_ret ret = dsn_ret::unspecified;
  std::string envid;  // xtext as received
};

namespace notify {
constexpr unsigned never = 1, success = 2, failure = 4, delay = 8;
}

struct rcpt_params {
  unsigned notify = 0;  // 0 = not given (default: failure, delay)
  std::string orcpt;    // "rfc822;xtext" as received
};

// Parse the text after the path. nullopt reply means success.
std::optional<reply> parse_mail_params(std::string_view text, mail_params& out);
std::optional<reply> parse_rcpt_params(std::string_view text, rcpt_params& out);

bool is_xtext(std::string_view s);
std::string xtext_decode(std::string_view s);
std::string xtext_encode(std::string_view s);

std::string_view to_string(body_type b);
std::string_view to_string(dsn_ret r);
std::string notify_to_string(unsigned n);

}  // namespace smtpsd::smtp
