#include "smtp/replies.hpp"

#include <fmt/format.h>

namespace smtpsd::smtp::replies {

reply banner(std::string_view hostname) { return make_reply(220, "", fmt::format("{} ESMTP smtpsd", hostname)); }
const reply& ok() { static const reply r = make_reply(250, "2.0.0", "Ok"); return r; }
const reply& mail_ok() { static const reply r = make_reply(250, "2.1.0", "Ok"); return r; }
const reply& rcpt_ok() { static const reply r = make_reply(250, "2.1.5", "Ok"); return r; }
namespace {
constexpr std::string_view queued_text = "Ok: queued as ";
}
reply queued(std::string_view id) { return make_reply(250, "2.0.0", std::string(queued_text) += id); }
std::string queued_summary(std::string_view id) { return (std::string("250 2.0.0 ") += queued_text) += id; }
reply bdat_chunk_ok(std::uint64_t n) { return make_reply(250, "2.0.0", fmt::format("Ok: {} octets received", n)); }
const reply& bye() { static const reply r = make_reply(221, "2.0.0", "Bye"); return r; }
const reply& start_data() { static const reply r = make_reply(354, "", "End data with <CR><LF>.<CR><LF>"); return r; }
reply ready_for_tls() { return make_reply(220, "2.0.0", "Ready to start TLS"); }
reply help() { return make_reply(214, "2.0.0", "See RFC 5321 and RFC 6409"); }
reply vrfy() { return make_reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"); }
const reply& auth_ok() { static const reply r = make_reply(235, "2.7.0", "Authentication successful"); return r; }
reply auth_challenge(std::string_view b64) { return reply{334, "", {std::string(b64)}}; }

reply service_closing(std::string_view hostname) {
  return make_reply(421, "4.3.2", fmt::format("{} Service shutting down, closing transmission channel", hostname));
}
reply timeout(std::string_view hostname) {
  return make_reply(421, "4.4.2", fmt::format("{} Error: timeout exceeded", hostname));
}
reply too_many_errors() { return make_reply(421, "4.7.0", "Too many errors, closing connection"); }
reply too_many_connections() { return make_reply(421, "4.7.0", "Too many connections, try again later"); }
reply too_many_connections_from_ip() {
  return make_reply(421, "4.7.0", "Too many connections from your address, try again later");
}
reply auth_throttled() {
  return make_reply(421, "4.7.0", "Too many failed authentication attempts, try again later");
}
reply too_many_recipients() { return make_reply(452, "4.5.3", "Too many recipients"); }
reply insufficient_storage() { return make_reply(452, "4.3.1", "Insufficient system storage"); }
reply temporary_failure() { return make_reply(451, "4.3.0", "Temporary failure, please try again later"); }
reply auth_temporary_failure() { return make_reply(454, "4.7.0", "Temporary authentication failure"); }
reply rate_exceeded() { return make_reply(454, "4.7.0", "Throttling failure: Maximum sending rate exceeded."); }
reply quota_exceeded() { return make_reply(454, "4.7.0", "Throttling failure: Daily message quota exceeded."); }

reply unrecognized_command() { return make_reply(500, "5.5.1", "Error: command not recognized"); }
reply line_too_long() { return make_reply(500, "5.5.2", "Error: line too long"); }
reply bare_lf_in_command() { return make_reply(500, "5.5.2", "Error: command lines must end with CRLF"); }
reply syntax_error(std::string_view what) { return make_reply(501, "5.5.4", fmt::format("Syntax error: {}", what)); }
reply bad_sequence(std::string_view what) { return make_reply(503, "5.5.1", fmt::format("Error: {}", what)); }
reply not_implemented() { return make_reply(502, "5.5.1", "Error: command not implemented"); }
reply param_not_supported(std::string_view p) {
  return make_reply(555, "5.5.4", fmt::format("Unsupported parameter {}", p));
}
reply auth_mech_unknown() { return make_reply(504, "5.5.4", "Unrecognized authentication mechanism"); }
reply auth_bad_base64() { return make_reply(501, "5.5.2", "Invalid base64 data"); }
reply auth_cancelled() { return make_reply(501, "5.7.0", "Authentication cancelled"); }
reply auth_already() { return make_reply(503, "5.5.1", "Error: already authenticated"); }
reply auth_needs_tls() {
  return make_reply(538, "5.7.11", "Encryption required for requested authentication mechanism");
}
reply auth_required() { return make_reply(530, "5.7.0", "Authentication required"); }
reply auth_failed() { return make_reply(535, "5.7.8", "Authentication credentials invalid"); }
reply tls_not_available() { return make_reply(502, "5.5.1", "Error: STARTTLS not offered here"); }
reply tls_already_active() { return make_reply(503, "5.5.1", "Error: TLS already active"); }
reply sender_not_authorized(std::string_view a) {
  return make_reply(550, "5.7.1", fmt::format("Sender address <{}> is not a verified identity of this account", a));
}
reply header_from_not_authorized(std::string_view a) {
  return make_reply(550, "5.7.1", fmt::format("Header address <{}> is not a verified identity of this account", a));
}
reply null_sender_refused() { return make_reply(550, "5.7.1", "Null sender <> is not allowed for submission"); }
reply message_too_big() { return make_reply(552, "5.3.4", "Message size exceeds fixed limit"); }
reply header_too_big() { return make_reply(552, "5.3.4", "Message header size exceeds limit"); }
reply text_line_too_long() { return make_reply(552, "5.3.4", "Message line longer than 1000 octets"); }
reply bare_cr_lf_in_data() {
  return make_reply(554, "5.5.2", "Message contains bare CR or LF; lines must end with CRLF");
}
reply suppressed(std::string_view a) {
  return make_reply(550, "5.1.1", fmt::format("Recipient address <{}> is on the suppression list", a));
}
reply sending_paused(std::string_view account, std::string_view reason) {
  return make_reply(550, "5.7.1", fmt::format("Sending paused for account {}: {}", account, reason));
}
reply sandbox_recipient(std::string_view a, std::string_view account) {
  return make_reply(550, "5.7.1",
                    fmt::format("Recipient address <{}> is not a verified identity: account {} is in the sandbox", a,
                                account));
}
reply relay_denied(std::string_view domain) {
  return make_reply(550, "5.7.1", fmt::format("Relaying denied: this server takes mail only for {}", domain));
}
reply auth_not_offered() { return make_reply(503, "5.5.1", "Error: authentication not enabled"); }
reply access_denied() { return make_reply(554, "5.7.1", "Access denied"); }
reply smtputf8_required() { return make_reply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8"); }
reply bad_sender_syntax() { return make_reply(501, "5.1.7", "Bad sender address syntax"); }
reply bad_recipient_syntax() { return make_reply(501, "5.1.3", "Bad recipient address syntax"); }
reply bad_auth_data() { return make_reply(501, "5.5.2", "Malformed authentication data"); }
reply no_local_recipients() { return make_reply(550, "5.1.1", "Recipient must be a full address; this server has no local mailboxes"); }
reply no_valid_recipients() { return make_reply(554, "5.5.1", "Error: no valid recipients"); }
reply malformed_headers() { return make_reply(554, "5.6.0", "Message headers are malformed"); }
reply binarymime_unsupported() { return make_reply(504, "5.5.4", "BODY=BINARYMIME is not supported"); }

reply configuration_set_unknown(std::string_view name) {
  return make_reply(554, "5.3.0", fmt::format("Configuration set {} does not exist", name));
}
reply bad_message_tags() {
  return make_reply(554, "5.6.0", "X-SES-MESSAGE-TAGS must be name=value pairs of letters, digits, '-' and '_'");
}

}  // namespace smtpsd::smtp::replies
