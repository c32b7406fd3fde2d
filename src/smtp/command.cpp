#include "smtp/command.hpp"

#include <array>

#include "base/strings.hpp"
#include "smtp/replies.hpp"

namespace smtpsd::smtp {

namespace {

struct verb_entry {
  std::string_view name;
  verb v;
};

constexpr std::array<verb_entry, 14> verbs = {{
    {"EHLO", verb::ehlo}, {"HELO", verb::helo}, {"MAIL", verb::mail}, {"RCPT", verb::rcpt},
    {"DATA", verb::data}, {"BDAT", verb::bdat}, {"RSET", verb::rset}, {"NOOP", verb::noop},
    {"QUIT", verb::quit}, {"VRFY", verb::vrfy}, {"EXPN", verb::expn}, {"HELP", verb::help},
    {"STARTTLS", verb::starttls}, {"AUTH", verb::auth},
}};

// "FROM:<a@b> SIZE=1" with prefix "FROM:" gives "<a@b> SIZE=1".
std::optional<std::string_view> strip_prefix(std::string_view args, std::string_view prefix) {
  if (!base::istarts_with(args, prefix)) return std::nullopt;
  auto rest = args.substr(prefix.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);  // "FROM: <…>" is common
  return rest;
}

}  // namespace

command parse_command(std::string_view line) {
  command c;
  auto sp = line.find(' ');
  auto name = line.substr(0, sp);
  for (auto& e : verbs) {
    if (base::iequals(name, e.name)) {
      c.v = e.v;
      break;
    }
  }
  if (sp != std::string_view::npos) {
    c.args = line.substr(sp + 1);
    c.had_args = true;
  }
  return c;
}

std::string_view verb_name(verb v) {
  for (auto& e : verbs)
    if (e.v == v) return e.name;
  return "UNKNOWN";
}

std::variant<mail_command, reply> parse_mail(std::string_view args) {
  auto p = strip_prefix(args, "FROM:");
  if (!p) return replies::syntax_error("MAIL FROM:<address>");
  auto path = parse_path((*p), /*allow_null=*/true);
  if (path.error != path_error::none) return replies::bad_sender_syntax();
  mail_command m;
  m.from = std::move(path.box);
  auto rest = (*p).substr(path.consumed);
  if (!rest.empty() && rest.front() != ' ') return replies::bad_sender_syntax();
  if (auto err = parse_mail_params(rest, m.params)) return *err;
  return m;
}

std::variant<rcpt_command, reply> parse_rcpt(std::string_view args) {
  auto p = strip_prefix(args, "TO:");
  if (!p) return replies::syntax_error("RCPT TO:<address>");
  auto path = parse_path((*p), /*allow_null=*/false);
  if (path.error == path_error::no_domain) return replies::no_local_recipients();
  if (path.error != path_error::none) return replies::bad_recipient_syntax();
  rcpt_command r;
  r.to = std::move(path.box);
  auto rest = (*p).substr(path.consumed);
  if (!rest.empty() && rest.front() != ' ') return replies::bad_recipient_syntax();
  if (auto err = parse_rcpt_params(rest, r.params)) return *err;
  return r;
}

std::variant<bdat_command, reply> parse_bdat(std::string_view args) {
  auto parts = base::split(args, ' ');
  if (parts.empty() || parts.size() > 2) return replies::syntax_error("BDAT size [LAST]");
  unsigned long long n;
  if (!base::parse_u64(parts[0], n)) return replies::syntax_error("BDAT size [LAST]");
  bdat_command b{n, false};
  if (parts.size() == 2) {
    if (!base::iequals(parts[1], "LAST")) return replies::syntax_error("BDAT size [LAST]");
    b.last = true;
  }
  return b;
}

std::variant<auth_command, reply> parse_auth(std::string_view args) {
  auto parts = base::split(args, ' ');
  if (parts.empty() || parts.size() > 2 || parts[0].empty()) return replies::syntax_error("AUTH mechanism [initial-response]");
  auth_command a;
  a.mechanism = base::to_upper(parts[0]);
  if (parts.size() == 2) {
    if (parts[1].empty()) return replies::syntax_error("AUTH mechanism [initial-response]");
    a.initial_response = std::string(parts[1]);
  }
  return a;
}

std::optional<std::string> parse_helo(std::string_view args) {
  args = base::trim(args);
  if (args.empty() || args.size() > 255) return std::nullopt;
  for (unsigned char c : args)
    if (c <= 32 || c >= 127) return std::nullopt;
  return std::string(args);
}

}  // namespace smtpsd::smtp
