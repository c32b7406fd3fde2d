#include <gtest/gtest.h>

#include "smtp/command.hpp"

using namespace smtpsd::smtp;

TEST(command, verbs_are_case_insensitive) {
  EXPECT_EQ(parse_command("ehlo x").v, verb::ehlo);
  EXPECT_EQ(parse_command("StartTLS").v, verb::starttls);
  EXPECT_EQ(parse_command("MAILX FROM:<>").v, verb::unknown);
  EXPECT_EQ(parse_command("").v, verb::unknown);
}

TEST(command, mail_with_params) {
  auto r = parse_mail("FROM:<a@example.com> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=abc+2B1 SMTPUTF8 AUTH=<>");
  auto* m = std::get_if<mail_command>(&r);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->from.str(), "a@example.com");
  EXPECT_EQ(m->params.size.value(), 1000u);
  EXPECT_EQ(m->params.body, body_type::eight_bit_mime);
  EXPECT_EQ(m->params.ret, dsn_ret::hdrs);
  EXPECT_EQ(m->params.envid, "abc+2B1");
  EXPECT_EQ(xtext_decode(m->params.envid), "abc+1");
  EXPECT_TRUE(m->params.smtputf8);
}

TEST(command, mail_errors) {
  auto code = [](std::string_view a) {
    auto r = parse_mail(a);
    auto* rep = std::get_if<reply>(&r);
    return rep ? rep->code : 250;
  };
  EXPECT_EQ(code("FROM: <a@example.com>"), 250);  // space after the colon is tolerated
  EXPECT_EQ(code("TO:<a@example.com>"), 501);
  EXPECT_EQ(code("FROM:<a@example.com> FOO=1"), 555);
  EXPECT_EQ(code("FROM:<a@example.com> SIZE=abc"), 501);
  EXPECT_EQ(code("FROM:<a@example.com> SIZE=1 SIZE=2"), 501);
  EXPECT_EQ(code("FROM:<a@example.com>SIZE=1"), 501);
  EXPECT_EQ(code("FROM:a@example.com"), 501);
}

TEST(command, rcpt_dsn_params) {
  auto r = parse_rcpt("TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org");
  auto* c = std::get_if<rcpt_command>(&r);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->params.notify, dsn_notify(notify::success | notify::failure));
  EXPECT_EQ(c->params.orcpt, "rfc822;b@example.org");
  EXPECT_TRUE(std::holds_alternative<reply>(parse_rcpt("TO:<b@example.org> NOTIFY=NEVER,DELAY")));
  EXPECT_TRUE(std::holds_alternative<reply>(parse_rcpt("TO:<>")));
}

TEST(command, bdat_and_auth) {
  auto b = std::get<bdat_command>(parse_bdat("1024 LAST"));
  EXPECT_EQ(b.size, 1024u);
  EXPECT_TRUE(b.last);
  EXPECT_TRUE(std::holds_alternative<reply>(parse_bdat("-1")));
  EXPECT_TRUE(std::holds_alternative<reply>(parse_bdat("10 FIRST")));
  auto a = std::get<auth_command>(parse_auth("plain AHVAcA=="));
  EXPECT_EQ(a.mechanism, "PLAIN");
  EXPECT_EQ(a.initial_response.value(), "AHVAcA==");
}
