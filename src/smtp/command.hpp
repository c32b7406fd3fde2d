#pragma once
// Command-line parsing: the verb, and the arguments of MAIL, RCPT, BDAT, AUTH.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "smtp/address.hpp"
#include "smtp/params.hpp"
#include "smtp/reply.hpp"

namespace smtpsd::smtp {

enum class verb { ehlo, helo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, expn, help, starttls, auth, unknown };

struct command {
  verb v = verb::unknown;
  std::string_view args;  // after the verb and one space; may be empty
  bool had_args = false;
};

// line excludes the CRLF.
command parse_command(std::string_view line);
std::string_view verb_name(verb v);

struct mail_command {
  mailbox from;
  mail_params params;
};
struct rcpt_command {
  mailbox to;
  rcpt_params params;
};
struct bdat_command {
  std::uint64_t size = 0;
  bool last = false;
};
struct auth_command {
  std::string mechanism;
  std::optional<std::string> initial_response;  // base64 text; "=" means empty
};

std::variant<mail_command, reply> parse_mail(std::string_view args);
std::variant<rcpt_command, reply> parse_rcpt(std::string_view args);
std::variant<bdat_command, reply> parse_bdat(std::string_view args);
std::variant<auth_command, reply> parse_auth(std::string_view args);
// EHLO/HELO argument: a domain or an address literal; printable ASCII only.
std::optional<std::string> parse_helo(std::string_view args);

}  // namespace smtpsd::smtp
