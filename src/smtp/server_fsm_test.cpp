#include <gtest/gtest.h>

#include "smtp/server_fsm.hpp"

using namespace smtpsd::smtp;

namespace {
server_fsm authed(server_settings s = {}) {
  s.tls_active = true;
  server_fsm f(s);
  std::string out;
  f.on_line("EHLO c", out);
  EXPECT_EQ(f.on_line("AUTH PLAIN AGFsaWNlAHMzY3JldA==", out), action::authenticate);
  EXPECT_EQ(f.pending_credentials().username, "alice");
  f.on_auth_result({auth_outcome::kind::success, "acme"}, out);
  return f;
}
}  // namespace

TEST(server_fsm, credentials_are_wiped_after_the_check) {
  auto f = authed();
  EXPECT_TRUE(f.authenticated());
  EXPECT_EQ(f.account(), "acme");
  EXPECT_TRUE(f.pending_credentials().password.empty());
}

TEST(server_fsm, envelope_keeps_dsn_parameters) {
  auto f = authed();
  std::string out;
  ASSERT_EQ(f.on_line("MAIL FROM:<a@example.com> RET=HDRS ENVID=x1", out), action::check_mail);
  f.on_mail_verdict({}, out);
  ASSERT_EQ(f.on_line("RCPT TO:<b@example.org> NOTIFY=DELAY ORCPT=rfc822;b@example.org", out), action::check_rcpt);
  f.on_rcpt_verdict({}, out);
  const auto& t = f.transaction();
  EXPECT_EQ(t.params.ret, dsn_ret::hdrs);
  EXPECT_EQ(t.params.envid, "x1");
  ASSERT_EQ(t.rcpts.size(), 1u);
  EXPECT_EQ(t.rcpts[0].params.notify, dsn_notify(notify::delay));
}

TEST(server_fsm, requiretls_is_offered_and_kept_only_under_tls) {
  auto f = authed();
  std::string out;
  ASSERT_EQ(f.on_line("MAIL FROM:<a@example.com> REQUIRETLS", out), action::check_mail);
  f.on_mail_verdict({}, out);
  ASSERT_EQ(f.on_line("RCPT TO:<b@example.org>", out), action::check_rcpt);
  f.on_rcpt_verdict({}, out);
  EXPECT_TRUE(f.transaction().params.requiretls);
  out.clear();
  f.on_line("RSET", out);
  out.clear();
  f.on_line("MAIL FROM:<a@example.com> REQUIRETLS=YES", out);
  EXPECT_EQ(out.substr(0, 3), "501") << out;

  server_settings plain;
  plain.starttls_offered = true;
  server_fsm p(plain);
  out.clear();
  p.on_line("EHLO c", out);
  EXPECT_EQ(out.find("REQUIRETLS"), std::string::npos) << "not before TLS (RFC 8689 §4.1)";
}

TEST(server_fsm, throttled_auth_closes) {
  server_settings s;
  s.tls_active = true;
  server_fsm f(s);
  std::string out;
  f.on_line("EHLO c", out);
  f.on_line("AUTH PLAIN AGFsaWNlAHMzY3JldA==", out);
  out.clear();
  EXPECT_EQ(f.on_auth_result({auth_outcome::kind::throttled, ""}, out), action::close);
  EXPECT_EQ(out.substr(0, 9), "421 4.7.0");
}

TEST(server_fsm, line_limit_grows_only_inside_auth) {
  server_settings s;
  s.tls_active = true;
  server_fsm f(s);
  std::string out;
  EXPECT_EQ(f.line_limit(), 512u);
  f.on_line("EHLO c", out);
  f.on_line("AUTH PLAIN", out);
  EXPECT_GT(f.line_limit(), 512u);
}

TEST(server_fsm, mail_rejection_does_not_open_a_transaction) {
  auto f = authed();
  std::string out;
  f.on_line("MAIL FROM:<x@evil.example>", out);
  out.clear();
  f.on_mail_verdict({make_reply(550, "5.7.1", "no"), false}, out);
  EXPECT_EQ(out, "550 5.7.1 no\r\n");
  out.clear();
  EXPECT_EQ(f.on_line("RCPT TO:<b@example.org>", out), action::read);
  EXPECT_EQ(out.substr(0, 3), "503");
}

TEST(server_fsm, transaction_state_lives_only_as_long_as_the_transaction) {
  // The envelope, the pending commands and the credentials are allocated when
  // a transaction or an AUTH exchange starts (docs/operations.md, "Memory");
  // held inline they made every idle session 856 octets bigger than this.
  EXPECT_LE(sizeof(server_fsm), 320u);
  auto f = authed();
  std::string out;
  ASSERT_EQ(f.on_line("MAIL FROM:<a@example.com>", out), action::check_mail);
  EXPECT_EQ(f.pending_mail().from.str(), "a@example.com");
  f.on_mail_verdict({reply{550, "5.7.1", {"no"}}, false}, out);
  EXPECT_FALSE(f.in_transaction());
  EXPECT_TRUE(f.pending_mail().from.str().empty());  // a refused MAIL leaves nothing behind
  ASSERT_EQ(f.on_line("MAIL FROM:<c@example.com>", out), action::check_mail);
  f.on_mail_verdict({}, out);
  ASSERT_EQ(f.on_line("RCPT TO:<d@example.org>", out), action::check_rcpt);
  EXPECT_EQ(f.pending_rcpt().to.str(), "d@example.org");
  f.on_rcpt_verdict({}, out);
  EXPECT_EQ(f.transaction().from.str(), "c@example.com");
  ASSERT_EQ(f.transaction().rcpts.size(), 1u);
  f.on_line("RSET", out);
  EXPECT_FALSE(f.in_transaction());
  EXPECT_TRUE(f.transaction().rcpts.empty());
  EXPECT_TRUE(f.transaction().from.str().empty());
}
