#include <gtest/gtest.h>

#include <cstring>

#include "smtp/line_buffer.hpp"

using namespace smtpsd::smtp;
using st = line_buffer::status;

namespace {
void put(line_buffer& b, std::string_view s) {
  std::memcpy(b.prepare(s.size()), s.data(), s.size());
  b.commit(s.size());
}
}  // namespace

TEST(line_buffer, pipelined_lines_come_out_one_by_one) {
  line_buffer b;
  put(b, "EHLO a\r\nMAIL FROM:<x@y.z>\r\nRC");
  auto r1 = b.next_line(512);
  EXPECT_EQ(r1.s, st::line);
  EXPECT_EQ(r1.line, "EHLO a");
  EXPECT_EQ(b.next_line(512).line, "MAIL FROM:<x@y.z>");
  EXPECT_EQ(b.next_line(512).s, st::need_more);
  put(b, "PT TO:<a@b.c>\r\n");
  EXPECT_EQ(b.next_line(512).line, "RCPT TO:<a@b.c>");
  EXPECT_TRUE(b.empty());
}

TEST(line_buffer, too_long_is_reported_once_and_skipped) {
  line_buffer b;
  put(b, std::string(600, 'x'));
  EXPECT_EQ(b.next_line(512).s, st::need_more);
  put(b, std::string(600, 'y') + "\r\nNOOP\r\n");
  EXPECT_EQ(b.next_line(512).s, st::too_long);
  auto r = b.next_line(512);
  EXPECT_EQ(r.s, st::line);
  EXPECT_EQ(r.line, "NOOP");
  // Exactly at the limit (510 + CRLF) is fine; one more is not.
  put(b, std::string(510, 'a') + "\r\n" + std::string(511, 'a') + "\r\n");
  EXPECT_EQ(b.next_line(512).s, st::line);
  EXPECT_EQ(b.next_line(512).s, st::too_long);
}

TEST(line_buffer, bare_lf_and_clear) {
  line_buffer b;
  put(b, "NOOP\nSTARTTLS\r\nNOOP\r\n");
  EXPECT_EQ(b.next_line(512).s, st::bare_lf);
  EXPECT_EQ(b.next_line(512).line, "STARTTLS");
  b.clear();  // pipelined plaintext behind STARTTLS is dropped
  EXPECT_EQ(b.next_line(512).s, st::need_more);
}
