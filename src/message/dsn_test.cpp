#include "message/dsn.hpp"

#include <gtest/gtest.h>

#include "message/headers.hpp"

using namespace smtpsd;
using namespace std::chrono_literals;

namespace {

message::dsn_input sample() {
  message::dsn_input in;
  in.reporting_mta = "mail.example.com";
  in.original_sender = "alice@example.com";
  in.envid = "ENV1";
  in.original_headers = "From: alice@example.com\r\nTo: bob@example.org\r\nSubject: hi\r\n";
  in.queue_id = "06H0BWCP3SB0ABTB";
  in.message_id = "<dsn.1@mail.example.com>";
  in.boundary = "smtpsd-b-1";
  in.arrival = base::time_point{1'800'000'000s};
  in.now = in.arrival + 5min;
  in.recipients.push_back({"bob@example.org", "rfc822;bob@example.org", "failed", "5.1.1",
                           "550 5.1.1 <bob@example.org>: no such user", "mx.example.org"});
  return in;
}

}  // namespace

TEST(dsn, is_a_delivery_status_report) {
  auto d = message::compose_dsn(sample());
  EXPECT_NE(d.find("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"smtpsd-b-1\"\r\n"),
            std::string::npos);
  EXPECT_NE(d.find("To: <alice@example.com>\r\n"), std::string::npos);
  EXPECT_NE(d.find("Content-Type: message/delivery-status\r\n"), std::string::npos);
  EXPECT_NE(d.find("Reporting-MTA: dns; mail.example.com\r\n"), std::string::npos);
  EXPECT_NE(d.find("Original-Envelope-Id: ENV1\r\n"), std::string::npos);
  EXPECT_NE(d.find("\r\nOriginal-Recipient: rfc822;bob@example.org\r\nFinal-Recipient: rfc822; bob@example.org\r\n"
                   "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.org\r\n"
                   "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: no such user\r\n"),
            std::string::npos);
  EXPECT_NE(d.find("Content-Type: text/rfc822-headers\r\n"), std::string::npos);
  EXPECT_NE(d.find("Subject: hi\r\n"), std::string::npos) << "the original headers come back";
  EXPECT_NE(d.find("Subject: Undelivered Mail Returned to Sender\r\n"), std::string::npos);
  EXPECT_TRUE(d.ends_with("\r\n--smtpsd-b-1--\r\n"));
}

TEST(dsn, only_crlf_seven_bit_and_bounded_lines) {
  auto in = sample();
  in.recipients[0].diagnostic = "550 caf\xc3\xa9 " + std::string(5000, 'x') + "\n\r";
  in.original_headers = "X-Long: " + std::string(3000, 'y') + "\nSubject: lf only\n";
  auto d = message::compose_dsn(in);
  std::size_t start = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    auto c = static_cast<unsigned char>(d[i]);
    ASSERT_LT(c, 0x80) << "7-bit at " << i;
    if (c == '\n') {
      ASSERT_GT(i, 0u);
      ASSERT_EQ(d[i - 1], '\r') << "bare LF at " << i;
      EXPECT_LE(i - start, 1000u);
      start = i + 1;
    }
    if (c == '\r') {
      ASSERT_EQ(d[i + 1], '\n') << "bare CR at " << i;
    }
  }
  EXPECT_NE(d.find("Subject: lf only\r\n"), std::string::npos);
}

TEST(dsn, header_section_parses) {
  auto d = message::compose_dsn(sample());
  auto end = d.find("\r\n\r\n");
  auto fields = message::parse_header_section(d.substr(0, end + 2));
  ASSERT_TRUE(fields);
  EXPECT_GE(fields->size(), 8u);
}

TEST(dsn, delay_notices_say_so) {
  auto in = sample();
  in.recipients[0].action = "delayed";
  in.recipients[0].status = "4.4.1";
  auto d = message::compose_dsn(in);
  EXPECT_NE(d.find("Subject: Delayed Mail (still being retried)\r\n"), std::string::npos);
  EXPECT_NE(d.find("Action: delayed\r\n"), std::string::npos);
}

TEST(dsn, status_and_hard_bounces) {
  EXPECT_EQ(message::status_of(550, "5.1.1"), "5.1.1");
  EXPECT_EQ(message::status_of(550, ""), "5.0.0");
  EXPECT_EQ(message::status_of(451, "5.1.1"), "4.0.0") << "class must agree with the code";
  EXPECT_TRUE(message::hard_bounce("5.1.1"));
  EXPECT_TRUE(message::hard_bounce("5.2.1"));
  EXPECT_FALSE(message::hard_bounce("5.7.1")) << "policy, not the mailbox";
  EXPECT_FALSE(message::hard_bounce("4.1.1"));
}
