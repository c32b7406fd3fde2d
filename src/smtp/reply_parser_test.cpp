#include <gtest/gtest.h>

#include <cstring>

#include "smtp/replies.hpp"
#include "smtp/reply_parser.hpp"

using namespace smtpsd::smtp;

namespace {
void feed(line_buffer& b, std::string_view s) {
  std::memcpy(b.prepare(s.size()), s.data(), s.size());
  b.commit(s.size());
}
}  // namespace

TEST(reply_parser, multi_line_with_enhanced_codes) {
  line_buffer b;
  reply_parser p;
  reply r;
  feed(b, "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n550 5.1.1 <x@y>: no such user\r\n");
  ASSERT_EQ(p.next(b, r), reply_parser::status::reply);
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.lines, (std::vector<std::string>{"mx.example", "PIPELINING", "SIZE 1000"}));
  ASSERT_EQ(p.next(b, r), reply_parser::status::reply);
  EXPECT_EQ(r.code, 550);
  EXPECT_EQ(r.enhanced, "5.1.1");
  EXPECT_EQ(r.lines[0], "<x@y>: no such user");
  EXPECT_EQ(r.summary(), "550 5.1.1 <x@y>: no such user");
  EXPECT_EQ(p.next(b, r), reply_parser::status::need_more);
}

TEST(reply_parser, split_across_reads_and_bare_code) {
  line_buffer b;
  reply_parser p;
  reply r;
  feed(b, "22");
  EXPECT_EQ(p.next(b, r), reply_parser::status::need_more);
  feed(b, "0\r\n");
  ASSERT_EQ(p.next(b, r), reply_parser::status::reply);
  EXPECT_EQ(r.code, 220);
}

TEST(reply_parser, garbage_and_floods_are_errors) {
  {
    line_buffer b;
    reply_parser p;
    reply r;
    feed(b, "HTTP/1.1 400 Bad Request\r\n");
    EXPECT_EQ(p.next(b, r), reply_parser::status::error);
  }
  {
    line_buffer b;
    reply_parser p;
    reply r;
    std::string flood;
    for (int i = 0; i < 1000; ++i) flood += "250-x\r\n";
    feed(b, flood);
    EXPECT_EQ(p.next(b, r), reply_parser::status::error);
    EXPECT_EQ(p.error(), "reply has too many lines");
  }
  {
    line_buffer b;
    reply_parser p;
    reply r;
    feed(b, "250-a\r\n251 b\r\n");
    EXPECT_EQ(p.next(b, r), reply_parser::status::error);
  }
}

TEST(replies, built_once_and_the_queued_summary_match_their_spec_texts) {
  using namespace smtpsd::smtp;
  EXPECT_EQ(replies::mail_ok().wire(), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(replies::rcpt_ok().wire(), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(replies::start_data().wire(), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(&replies::ok(), &replies::ok());  // one object, not one per command
  EXPECT_EQ(replies::queued("06H2XQZC96XN38RV").wire(), "250 2.0.0 Ok: queued as 06H2XQZC96XN38RV\r\n");
  EXPECT_EQ(replies::queued_summary("06H2XQZC96XN38RV"), replies::queued("06H2XQZC96XN38RV").summary());
}
