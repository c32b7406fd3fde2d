#include "message/compose.hpp"

#include <gtest/gtest.h>

#include "base/base64.hpp"
#include "message/headers.hpp"

using namespace smtpsd::message;

namespace {
compose_input base_input() {
  compose_input in;
  in.from = "alice@example.com";
  in.to = {"bob@example.org", "carol@example.org"};
  in.subject = "Hello";
  in.date = "Mon, 23 Nov 2026 01:07:28 +0000";
  in.message_id = "<1@example.com>";
  in.boundary = "b-1";
  return in;
}
}  // namespace

TEST(compose, fills_in_missing_fields_only) {
  auto in = base_input();
  in.text = "Subject: mine\nX-Custom: 1\n\nline one\nline two\n";
  auto out = compose(in);
  EXPECT_EQ(out,
            "From: alice@example.com\r\nTo: bob@example.org, carol@example.org\r\n"
            "Date: Mon, 23 Nov 2026 01:07:28 +0000\r\nMessage-ID: <1@example.com>\r\n"
            "Subject: mine\r\nX-Custom: 1\r\n\r\nline one\r\nline two\r\n");
}

TEST(compose, default_message_and_encoded_subject) {
  auto in = base_input();
  in.subject = "Café ✓";
  auto out = compose(in);
  EXPECT_NE(out.find("Subject: =?utf-8?b?"), std::string::npos);
  EXPECT_NE(out.find("\r\n\r\nSent with smtpsd send.\r\n"), std::string::npos);
  EXPECT_TRUE(parse_header_section(out.substr(0, out.find("\r\n\r\n") + 2)));
}

TEST(compose, attachments_make_multipart_mixed) {
  auto in = base_input();
  in.text = "Subject: report\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n";
  in.attachments.push_back({"data.bin", "application/octet-stream", std::string("\x00\x01\xff", 3)});
  in.attachments.push_back({"notes \"v2\".txt", "text/plain", "hi\n"});
  auto out = compose(in);
  EXPECT_NE(out.find("Content-Type: multipart/mixed; boundary=\"b-1\"\r\n"), std::string::npos);
  EXPECT_NE(out.find("--b-1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n--b-1\r\n"),
            std::string::npos);
  EXPECT_NE(out.find("Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n" +
                     smtpsd::base::base64_encode(std::string("\x00\x01\xff", 3)) + "\r\n"),
            std::string::npos);
  EXPECT_NE(out.find("filename=\"notes \\\"v2\\\".txt\""), std::string::npos);
  EXPECT_TRUE(out.ends_with("--b-1--\r\n"));
  EXPECT_EQ(out.find("\r\nContent-Type: text/plain; charset=utf-8\r\nMIME"), std::string::npos)
      << "the original Content-Type moved into the first part";
}

TEST(compose, crlf_everywhere_and_bad_headers_refused) {
  EXPECT_EQ(to_crlf("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd");
  auto in = base_input();
  in.text = "not a header line\n\nbody\n";
  EXPECT_THROW(compose(in), std::invalid_argument);
  EXPECT_EQ(guess_content_type("X.PDF"), "application/pdf");
  EXPECT_EQ(guess_content_type("x.unknown"), "application/octet-stream");
}
