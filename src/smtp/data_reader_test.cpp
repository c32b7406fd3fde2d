#include <gtest/gtest.h>

#include "smtp/data_reader.hpp"

using namespace smtpsd::smtp;
using namespace std::string_view_literals;
using err = data_reader::error;

namespace {
struct result {
  std::string out;
  std::size_t consumed;
  bool done;
  err e;
};
result run(std::string_view in, std::uint64_t max = 1 << 20, std::size_t chunk = 0) {
  data_reader r(data_reader::mode::dot_terminated, max);
  result res{{}, 0, false, err::none};
  if (chunk == 0) chunk = in.size() ? in.size() : 1;
  while (res.consumed < in.size() && !r.done()) {
    auto piece = in.substr(res.consumed, chunk);
    res.consumed += r.feed(piece, res.out);
  }
  res.done = r.done();
  res.e = r.err();
  return res;
}
}  // namespace

TEST(data_reader, simple_message_and_unstuffing) {
  auto r = run("Subject: x\r\n\r\n..leading dot\r\n.\r\nNEXT");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.e, err::none);
  EXPECT_EQ(r.out, "Subject: x\r\n\r\n.leading dot\r\n");
  EXPECT_EQ(r.consumed, std::string("Subject: x\r\n\r\n..leading dot\r\n.\r\n").size());
}

TEST(data_reader, empty_message) {
  auto r = run(".\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.out, "");
}

TEST(data_reader, byte_by_byte_equals_whole) {
  std::string msg = "a\r\n..b\r\n.c\r\n\r\n.\r\n";
  auto whole = run(msg);
  auto bytes = run(msg, 1 << 20, 1);
  EXPECT_EQ(whole.out, bytes.out);
  EXPECT_EQ(bytes.out, "a\r\n.b\r\nc\r\n\r\n");
}

// Every SMTP smuggling variant: none of them ends the data, and each is an error.
TEST(data_reader, smuggling_variants_never_end_the_message) {
  for (std::string_view fake : {"\n.\n"sv, "\n.\r\n"sv, "\r\n.\n"sv, "\r.\r\n"sv, "\r\n.\r"sv, "\r\n\0.\r\n"sv, "\r\n.\r\r\n"sv}) {
    std::string msg = "Subject: a\r\n\r\nbody";
    msg += fake;
    msg += "MAIL FROM:<evil@example.com>\r\nmore\r\n.\r\n";
    auto r = run(msg);
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.consumed, msg.size()) << "ended early for variant " << ::testing::PrintToString(std::string(fake));
    if (fake != "\r\n\0.\r\n"sv) {
      EXPECT_EQ(r.e, err::bare_cr_lf) << ::testing::PrintToString(std::string(fake));
    }
  }
}

TEST(data_reader, bare_lf_alone_is_an_error) {
  auto r = run("a\nb\r\n.\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.e, err::bare_cr_lf);
  EXPECT_EQ(r.out, "a");  // nothing emitted from the error on
}

TEST(data_reader, size_and_line_limits) {
  auto big = run(std::string(2000, 'x').insert(0, "a\r\n") + "\r\n.\r\n", 100000);
  EXPECT_EQ(big.e, err::line_too_long);
  std::string ok_line(998, 'x');
  EXPECT_EQ(run(ok_line + "\r\n.\r\n").e, err::none);
  EXPECT_EQ(run(ok_line + "x\r\n.\r\n").e, err::line_too_long);
  auto sized = run("0123456789\r\n.\r\n", 5);
  EXPECT_TRUE(sized.done);
  EXPECT_EQ(sized.e, err::too_big);
}

TEST(data_reader, chunked_mode_has_no_dots_and_adds_final_crlf) {
  data_reader r(data_reader::mode::chunked, 1000);
  std::string out;
  EXPECT_EQ(r.feed(".\r\n", out), 3u);
  EXPECT_EQ(r.feed("end", out), 3u);
  r.finish(out);
  EXPECT_EQ(out, ".\r\nend\r\n");
  EXPECT_EQ(r.err(), err::none);
  data_reader bad(data_reader::mode::chunked, 1000);
  bad.feed("a\r", out);
  bad.finish(out);
  EXPECT_EQ(bad.err(), err::bare_cr_lf);
}

// Found by fuzz_data_reader: the reported error depended on read sizes.
TEST(data_reader, error_does_not_depend_on_read_sizes) {
  std::string msg = "Subject: x\r\n\r\n" + std::string(3000, 'a') + "\r\n.\r\n";  // too big and too long
  auto whole = run(msg, 2000);
  auto bytes = run(msg, 2000, 1);
  EXPECT_EQ(whole.e, err::too_big);
  EXPECT_EQ(bytes.e, err::too_big);
  auto smuggled = run("a\r\n" + std::string(3000, 'b') + "\n.\r\n.\r\n", 2000);
  EXPECT_EQ(smuggled.e, err::bare_cr_lf) << "bare LF outranks size";
}
