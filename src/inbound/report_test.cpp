// The return path's reports: RFC 3464 DSNs, RFC 5965 ARF, prose bounces, and
// the VERP addresses they come back to.
#include <gtest/gtest.h>

#include "inbound/report.hpp"
#include "inbound/verp.hpp"

namespace smtpsd::inbound {
namespace {

const char* dsn =
    "From: MAILER-DAEMON@mx.example.net\r\n"
    "To: b+01ARZ3NDEKTSV4RRFFQ69G5FAV-xxxx@bounces.example.com\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    "\tboundary=\"B1\"\r\n"
    "\r\n"
    "--B1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "I'm sorry to have to inform you that your message could not be delivered.\r\n"
    "--B1\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.example.net\r\n"
    "Arrival-Date: Sun, 29 Nov 2026 06:00:00 +0000\r\n"
    "\r\n"
    "Final-Recipient: rfc822; nobody@example.net\r\n"
    "Original-Recipient: rfc822;Nobody@example.net\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Remote-MTA: dns; mx2.example.net\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient address\r\n"
    " rejected: User unknown\r\n"
    "\r\n"
    "Final-Recipient: rfc822; later@example.net\r\n"
    "Action: delayed\r\n"
    "Status: 4.2.2 (mailbox full)\r\n"
    "\r\n"
    "--B1\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "Return-Path: <b+01ARZ3NDEKTSV4RRFFQ69G5FAV-xxxx@bounces.example.com>\r\n"
    "From: App <app@example.com>\r\n"
    "To: nobody@example.net, later@example.net\r\n"
    "Message-ID: <m1@example.com>\r\n"
    "--B1--\r\n";

TEST(report, dsn_recipients_with_status_diagnostic_and_original_headers) {
  auto r = parse_report(dsn);
  EXPECT_EQ(r.kind, report_kind::dsn);
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].address, "nobody@example.net");
  EXPECT_EQ(r.recipients[0].action, "failed");
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].remote_mta, "mx2.example.net");
  EXPECT_EQ(r.recipients[0].diagnostic, "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown");
  EXPECT_EQ(r.recipients[1].action, "delayed");
  EXPECT_EQ(r.recipients[1].status, "4.2.2");
  EXPECT_EQ(r.original_message_id, "<m1@example.com>");
  EXPECT_EQ(r.original_from, "app@example.com");
  EXPECT_EQ(r.original_return_path, "b+01ARZ3NDEKTSV4RRFFQ69G5FAV-xxxx@bounces.example.com");
  EXPECT_EQ(r.original_to.size(), 2u);
}

TEST(report, dsn_with_bare_lf_and_base64_status_part) {
  std::string m =
      "Content-Type: multipart/report; report-type=delivery-status; boundary=zz\n\n"
      "--zz\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
      "UmVwb3J0aW5nLU1UQTogZG5zOyBteAoKRmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGFAYi50ZXN0CkFjdGlvbjogZmFpbGVkClN0YXR1czogNS4wLjAK\n"
      "--zz--\n";
  auto r = parse_report(m);
  EXPECT_EQ(r.kind, report_kind::dsn);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "a@b.test");
  EXPECT_EQ(r.recipients[0].status, "5.0.0");
}

TEST(report, arf_feedback_fields_and_redacted_original) {
  const char* arf =
      "From: <fbl@isp.example>\r\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=\"part\"\r\n"
      "\r\n"
      "--part\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
      "--part\r\nContent-Type: message/feedback-report\r\n\r\n"
      "Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n"
      "Original-Mail-From: <b+01ARZ3NDEKTSV4RRFFQ69G5FAV-yyyy@bounces.example.com>\r\n"
      "Original-Rcpt-To: <victim@isp.example>\r\nArrival-Date: Thu, 8 Mar 2005 14:00:00 EDT\r\n"
      "Source-IP: 192.0.2.1\r\n\r\n"
      "--part\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"
      "Return-Path: <b+01ARZ3NDEKTSV4RRFFQ69G5FAV-yyyy@bounces.example.com>\r\n"
      "From: <app@example.com>\r\nTo: <redacted@isp.example>\r\nMessage-ID: <m2@example.com>\r\n\r\nbody\r\n"
      "--part--\r\n";
  auto r = parse_report(arf);
  EXPECT_EQ(r.kind, report_kind::arf);
  EXPECT_EQ(r.feedback_type, "abuse");
  EXPECT_EQ(r.user_agent, "SomeGenerator/1.0");
  EXPECT_EQ(r.source_ip, "192.0.2.1");
  ASSERT_EQ(r.original_rcpt_to.size(), 1u);
  EXPECT_EQ(r.original_rcpt_to[0], "victim@isp.example");
  EXPECT_EQ(r.original_mail_from, "b+01ARZ3NDEKTSV4RRFFQ69G5FAV-yyyy@bounces.example.com");
  EXPECT_EQ(r.original_message_id, "<m2@example.com>");
  EXPECT_TRUE(r.recipients.empty());
}

TEST(report, prose_bounce_is_read_from_its_text) {
  const char* m =
      "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
      "Subject: Mail delivery failed: returning message to sender\r\n\r\n"
      "This message was created automatically by mail delivery software.\r\n\r\n"
      "A message that you sent could not be delivered to one or more of its recipients.\r\n\r\n"
      "  gone@example.org\r\n"
      "    host mx.example.org [192.0.2.7]\r\n"
      "    SMTP error from remote mail server after RCPT TO:<gone@example.org>:\r\n"
      "    550 5.1.1 The email account that you tried to reach does not exist\r\n";
  auto r = parse_report(m);
  EXPECT_EQ(r.kind, report_kind::text_bounce);
  ASSERT_EQ(r.recipients.size(), 1u) << "MAILER-DAEMON is not a recipient; the address appears once";
  EXPECT_EQ(r.recipients[0].address, "gone@example.org");
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].diagnostic, "550 5.1.1 The email account that you tried to reach does not exist");
}

TEST(report, ordinary_mail_is_not_a_report) {
  auto r = parse_report("From: a@b.test\r\nSubject: hello\r\n\r\nsee you at 5.1.1 pm, c@d.test\r\n");
  EXPECT_EQ(r.kind, report_kind::unknown);
  EXPECT_TRUE(r.recipients.empty());
}

TEST(report, deep_nesting_and_many_parts_are_cut_not_followed) {
  std::string m;
  for (int i = 0; i < 50; ++i) m += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  auto r = parse_report(m);
  EXPECT_TRUE(r.limited);
  std::string wide = "Content-Type: multipart/mixed; boundary=x\r\n\r\n";
  for (int i = 0; i < 1000; ++i) wide += "--x\r\n\r\npart\r\n";
  auto w = parse_report(wide);
  EXPECT_TRUE(w.limited);
  EXPECT_LE(w.parts, 201u);
}

TEST(report, addresses_in_text) {
  auto a = find_addresses("to <A.b+c@Example.COM>, x@y, mailto:z@q.test. and again a.b+c@example.com");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0], "A.b+c@Example.COM");
  EXPECT_EQ(a[1], "z@q.test");
}

TEST(verp, round_trip_and_forgery) {
  const auto key = verp_key(std::string(32, 'k'));
  const std::string qid = "01ARZ3NDEKTSV4RR";
  auto rp = make_return_path(key, "bounces.example.com", qid, 42, "Rcpt@Example.net");
  EXPECT_EQ(rp.size(), std::string("b+-@bounces.example.com").size() + 16 + 24);
  EXPECT_TRUE(rp.starts_with("b+" + qid + "-"));
  return_path got;
  ASSERT_EQ(parse_return_path(key, "bounces.example.com", rp, got), verp_check::ok);
  EXPECT_EQ(got.queue_id, qid);
  EXPECT_EQ(got.account_id, 42);
  EXPECT_TRUE(recipient_matches(key, got, "rcpt@example.net")) << "compared in lower case";
  EXPECT_FALSE(recipient_matches(key, got, "other@example.net"));

  // A receiver that lower-cases the local part still matches.
  std::string lower = rp;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(parse_return_path(key, "BOUNCES.example.com", lower, got), verp_check::ok);

  // Another account id with the same tag, another key, another queue id: forged.
  std::string other_account = rp;
  other_account[19] = other_account[19] == '0' ? '1' : '0';
  EXPECT_EQ(parse_return_path(key, "bounces.example.com", other_account, got), verp_check::forged);
  EXPECT_EQ(parse_return_path(verp_key("other"), "bounces.example.com", rp, got), verp_check::forged);
  std::string other_id = rp;
  other_id[5] = other_id[5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(parse_return_path(key, "bounces.example.com", other_id, got), verp_check::forged);

  EXPECT_EQ(parse_return_path(key, "bounces.example.com", "fbl@bounces.example.com", got), verp_check::not_verp);
  EXPECT_EQ(parse_return_path(key, "other.example.com", rp, got), verp_check::not_verp);
}

}  // namespace
}  // namespace smtpsd::inbound
