// Command lines through the server state machine: every parser on the command
// path (verbs, paths, ESMTP parameters, AUTH framing and SASL) and every
// transition, with the session's side of each action answered synthetically.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "smtp/command.hpp"
#include "smtp/line_buffer.hpp"
#include "smtp/server_fsm.hpp"

using namespace smtpsd::smtp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  server_settings s;
  s.tls_active = size > 0 && (data[0] & 1);
  s.starttls_offered = !s.tls_active;
  s.max_recipients = 3;
  s.max_errors = 50;
  server_fsm fsm(s);
  std::string out;
  fsm.greet(out);
  line_buffer buf;
  std::memcpy(buf.prepare(in.size()), in.data(), in.size());
  buf.commit(in.size());
  for (int steps = 0; steps < 10000; ++steps) {
    auto r = buf.next_line(fsm.line_limit());
    if (r.s == line_buffer::status::need_more) break;
    action a = r.s == line_buffer::status::line       ? fsm.on_line(r.line, out)
               : r.s == line_buffer::status::too_long ? fsm.on_line_too_long(out)
                                                      : fsm.on_bare_lf(out);
    for (int hops = 0; hops < 8; ++hops) {
      switch (a) {
        case action::read: break;
        case action::close: return 0;
        case action::start_tls: fsm.on_tls_started(); a = action::read; break;
        case action::lookup_secrets: {
          static const auto secrets = smtpsd::sasl::make_scram_secrets("pencil", "salt", 4096);
          a = fsm.on_scram_secrets(secrets, "N", out);
          continue;
        }
        case action::authenticate:
          a = fsm.on_auth_result({fsm.pending_credentials().username.size() % 2 ? auth_outcome::kind::success
                                                                                 : auth_outcome::kind::failure,
                                  "acct"},
                                 out);
          continue;
        case action::check_mail: a = fsm.on_mail_verdict({}, out); continue;
        case action::check_rcpt: a = fsm.on_rcpt_verdict({}, out); continue;
        case action::receive_data:
        case action::receive_bdat: a = fsm.on_message_result(make_reply(250, "2.0.0", "ok"), out); continue;
        case action::discard_bdat: a = action::read; break;
      }
      break;
    }
    if (out.size() > (1 << 20)) out.clear();
  }
  // The standalone parsers too, on the raw input.
  (void)parse_mail(in);
  (void)parse_rcpt(in);
  (void)parse_bdat(in);
  (void)parse_auth(in);
  (void)parse_path(in, true);
  return 0;
}
