#include "smtp/client.hpp"

#include <gtest/gtest.h>

using namespace smtpsd::smtp;

TEST(client, parses_ehlo_extensions) {
  reply r{250, "", {"mx.example.org greets you", "PIPELINING", "SIZE 10240000", "8BITMIME", "smtputf8",
                    "AUTH PLAIN LOGIN", "AUTH=LOGIN", "STARTTLS", "CHUNKING", "DSN", "ENHANCEDSTATUSCODES"}};
  auto c = parse_ehlo(r);
  EXPECT_TRUE(c.pipelining && c.eightbitmime && c.smtputf8 && c.starttls && c.chunking && c.dsn);
  ASSERT_TRUE(c.size);
  EXPECT_EQ(*c.size, 10240000u);
  EXPECT_EQ(c.auth, (std::vector<std::string>{"PLAIN", "LOGIN"}));
  EXPECT_EQ(c.keywords.size(), 10u);
}

TEST(client, greeting_line_is_not_a_keyword) {
  reply r{250, "", {"STARTTLS"}};
  EXPECT_FALSE(parse_ehlo(r).starttls);
  EXPECT_FALSE(parse_ehlo(r).size);
}

TEST(client, dot_stuffing_across_chunks) {
  dot_stuffer d;
  std::string out;
  d.encode(".first\r\nsecond\r", out);
  d.encode("\n.", out);
  d.encode("third\r\n..x\r\n", out);
  d.finish(out);
  EXPECT_EQ(out, "..first\r\nsecond\r\n..third\r\n...x\r\n.\r\n");
}

TEST(client, dot_stuffing_matches_the_rule_for_any_split) {
  // The rule, one octet at a time: a line that starts with '.' gets another.
  auto reference = [](std::string_view in) {
    std::string out;
    bool start = true;
    for (char c : in) {
      if (start && c == '.') out += '.';
      out += c;
      start = c == '\n';
    }
    if (in.size() < 2 || in.substr(in.size() - 2) != "\r\n") out += "\r\n";
    return out + ".\r\n";
  };
  const std::string text = ".a\r\n..b\r\n\r\n.\r\nplain line\r\n.\n.x\r\ntail.";
  for (std::size_t cut1 = 0; cut1 <= text.size(); ++cut1) {
    for (std::size_t cut2 = cut1; cut2 <= text.size(); cut2 += 3) {
      dot_stuffer d;
      std::string out;
      d.encode(std::string_view(text).substr(0, cut1), out);
      d.encode(std::string_view(text).substr(cut1, cut2 - cut1), out);
      d.encode(std::string_view(text).substr(cut2), out);
      d.finish(out);
      ASSERT_EQ(out, reference(text)) << cut1 << " " << cut2;
      // The same with chunks that need no stuffing passed as they are.
      dot_stuffer p;
      std::string passed;
      for (auto chunk : {std::string_view(text).substr(0, cut1), std::string_view(text).substr(cut1, cut2 - cut1),
                         std::string_view(text).substr(cut2)})
        if (p.as_is(chunk))
          passed += chunk;
        else
          p.encode(chunk, passed);
      p.finish(passed);
      ASSERT_EQ(passed, reference(text)) << cut1 << " " << cut2;
    }
  }
  {
    dot_stuffer p;
    EXPECT_TRUE(p.as_is("a\r\nb\r"));
    EXPECT_FALSE(p.as_is("\n.c")) << "a line start that the previous chunk made";
    EXPECT_TRUE(p.as_is("\nc.\n")) << "refused chunks leave no trace";
    EXPECT_FALSE(p.as_is(".d")) << "the chunk before ended a line";
    EXPECT_TRUE(p.as_is("d.")) << "a dot inside a line";
  }
  dot_stuffer d;
  std::string out;
  d.encode("x\r", out);
  d.encode("\n", out);
  d.finish(out);
  EXPECT_EQ(out, "x\r\n.\r\n") << "a CRLF split across chunks is still a line end";
}

TEST(client, finish_adds_the_missing_crlf) {
  dot_stuffer d;
  std::string out;
  d.encode("no newline", out);
  d.finish(out);
  EXPECT_EQ(out, "no newline\r\n.\r\n");
  dot_stuffer e;
  std::string empty;
  e.finish(empty);
  EXPECT_EQ(empty, ".\r\n") << "empty content is just the terminator";
}

TEST(client, mail_parameters_only_when_offered) {
  capabilities none;
  mail_options o{4096, body_type::eight_bit_mime, true, dsn_ret::hdrs, "E1"};
  EXPECT_EQ(format_mail("a@b", o, none), "MAIL FROM:<a@b>");
  capabilities all;
  all.size = 0;
  all.eightbitmime = all.smtputf8 = all.dsn = true;
  EXPECT_EQ(format_mail("a@b", o, all), "MAIL FROM:<a@b> SIZE=4096 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=E1");
  EXPECT_EQ(format_rcpt("c@d", dsn_notify(notify::failure), "rfc822;c@d", all), "RCPT TO:<c@d> NOTIFY=FAILURE ORCPT=rfc822;c@d");
  EXPECT_EQ(format_rcpt("c@d", dsn_notify(notify::failure), "rfc822;c@d", none), "RCPT TO:<c@d>");
}
