#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "base/block_cache.hpp"
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

// Reads shorter than prepared, growth past the first block, the move of what
// is left to the front once most is consumed, and release only when empty.
TEST(line_buffer, keeps_partial_lines_across_growth_compaction_and_release) {
  line_buffer b;
  char* p = b.prepare(16384);
  std::memcpy(p, "NOOP\r\nQU", 8);
  b.commit(8);  // a short read
  EXPECT_EQ(b.next_line(512).line, "NOOP");
  b.release();  // "QU" is still buffered: kept
  EXPECT_EQ(b.pending(), "QU");
  put(b, "IT\r\n");
  EXPECT_EQ(b.next_line(512).line, "QUIT");
  EXPECT_TRUE(b.empty());
  b.release();
  EXPECT_EQ(b.pending(), "");
  EXPECT_EQ(b.next_line(512).s, st::need_more) << "a released buffer reads as empty";

  std::string lines;
  for (int i = 0; i < 2000; ++i) lines += "RCPT TO:<r" + std::to_string(i) + "@example.org>\r\n";
  put(b, lines.substr(0, 30000));  // beyond one 16 KiB block
  int n = 0;
  while (b.next_line(512).s == st::line) ++n;
  put(b, lines.substr(30000));  // most was consumed: the tail moves to the front first
  while (b.next_line(512).s == st::line) ++n;
  EXPECT_EQ(n, 2000);
  EXPECT_TRUE(b.empty());
}

TEST(line_buffer, a_released_block_goes_to_the_threads_spares_and_comes_back) {
  namespace bc = smtpsd::base::block_cache;
  while (bc::spares() > 0) std::free(bc::take());
  line_buffer b;
  put(b, "NOOP\r\n");
  EXPECT_EQ(b.next_line(512).line, "NOOP");
  b.release();
  EXPECT_EQ(bc::spares(), 1) << "the idle session's buffer is kept for the next command";
  put(b, "QUIT\r\n");
  EXPECT_EQ(bc::spares(), 0);
  EXPECT_EQ(b.next_line(512).line, "QUIT");
}
