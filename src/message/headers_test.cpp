#include <gtest/gtest.h>

#include "message/fixups.hpp"
#include "base/time_format.hpp"
#include "message/headers.hpp"

using namespace smtpsd;
using namespace smtpsd::message;

TEST(headers, parse_folded_fields) {
  std::string s = "From: a@example.com\r\nSubject: one\r\n two\r\nX-Empty:\r\n";
  auto f = parse_header_section(s);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 3u);
  EXPECT_EQ((*f)[1].name, "Subject");
  EXPECT_EQ(unfold((*f)[1].value), "one two");
  EXPECT_EQ((*f)[1].raw, "Subject: one\r\n two\r\n");
  EXPECT_EQ(find_field(*f, "x-empty")->value, "");
}

TEST(headers, rejects_malformed_sections) {
  EXPECT_FALSE(parse_header_section("not a header\r\n"));
  EXPECT_FALSE(parse_header_section(": no name\r\n"));
  EXPECT_FALSE(parse_header_section("Subject: x"));  // no CRLF
  EXPECT_FALSE(parse_header_section("Subject: x\ny\r\n"));
  EXPECT_TRUE(parse_header_section(""));
}

TEST(header_splitter, finds_the_empty_line_across_chunks) {
  header_splitter s(1000);
  EXPECT_EQ(s.feed("Subject: x\r\n\r"), "");
  EXPECT_FALSE(s.header_done());
  EXPECT_EQ(s.feed("\nbody\r\n"), "body\r\n");
  EXPECT_TRUE(s.header_done());
  EXPECT_EQ(s.section(), "Subject: x\r\n");
  header_splitter empty(1000);
  EXPECT_EQ(empty.feed("\r\nbody"), "body");
  EXPECT_EQ(empty.section(), "");
  header_splitter big(10);
  big.feed("Subject: 0123456789\r\n");
  EXPECT_TRUE(big.too_big());
}

TEST(header_splitter, any_chunking_gives_what_one_byte_at_a_time_gives) {
  const std::string inputs[] = {"Subject: x\r\nTo: y\r\n\r\nbody\r\n\r\nmore", "\r\nbody", "A: b\n\nC: d\r\n\r\nx",
                                "A: b\r\n\r", "Subject: 01234567\r\n\r\nbody", "Subject: 012345678\r\n\r\nb",
                                "X: 0123456789012345678\r\n"};
  for (const auto& in : inputs) {
    header_splitter bytes(20);
    std::string bytes_body;
    for (char c : in) bytes_body += bytes.feed(std::string_view(&c, 1));
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
      header_splitter two(20);
      std::string body(two.feed(std::string_view(in).substr(0, cut)));
      body += two.feed(std::string_view(in).substr(cut));
      SCOPED_TRACE(in + " cut at " + std::to_string(cut));
      EXPECT_EQ(two.header_done(), bytes.header_done());
      EXPECT_EQ(two.too_big(), bytes.too_big());
      if (!bytes.too_big()) {
        EXPECT_EQ(two.section(), bytes.section());
        EXPECT_EQ(body, bytes_body);
      }
    }
  }
}

TEST(fixups, received_date_message_id_and_bcc) {
  trace_info t;
  t.hostname = "mail.example.com";
  t.helo = "client";
  t.client_ip = "192.0.2.1";
  t.queue_id = "0123456789ABCDEF";
  t.tls_version = "TLSv1.3";
  t.tls_cipher = "TLS_AES_256_GCM_SHA384";
  t.now = base::from_unix_seconds(1795387080);
  auto r = apply_submission_fixups("From: a@example.com\r\nBcc: secret@example.org\r\nSubject: s\r\n", t);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->section.rfind("Received: from client ([192.0.2.1])\r\n\tby mail.example.com (smtpsd) with ESMTPSA id 0123456789ABCDEF\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384);\r\n\tSun, 22 Nov 2026 22:38:00 +0000\r\n", 0), 0u);
  EXPECT_EQ(r->section.find("Bcc"), std::string::npos);
  EXPECT_NE(r->section.find("Date: Sun, 22 Nov 2026 22:38:00 +0000\r\n"), std::string::npos);
  EXPECT_EQ(r->message_id, "<0123456789ABCDEF@mail.example.com>");
  auto kept = apply_submission_fixups("Message-ID: <x@y>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n", t);
  EXPECT_EQ(kept->message_id, "<x@y>");
  EXPECT_EQ(kept->section.find("Date: Sun"), std::string::npos);
}

TEST(fixups, tls_required_no_is_noticed_and_kept) {
  trace_info t;
  t.hostname = "mail.example.com";
  t.queue_id = "Q";
  auto r = apply_submission_fixups("From: a@example.com\r\nTLS-Required:  no \r\n", t);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->tls_required_no);
  EXPECT_NE(r->section.find("TLS-Required:  no"), std::string::npos) << "carried onward (RFC 8689 §5)";
  EXPECT_FALSE(apply_submission_fixups("From: a@example.com\r\nTLS-Required: yes\r\n", t)->tls_required_no);
}

TEST(fixups, ses_event_publishing_fields_are_taken_out) {
  trace_info t;
  t.hostname = "mail.example.com";
  t.queue_id = "Q";
  auto r = apply_submission_fixups(
      "From: a@example.com\r\nX-SES-CONFIGURATION-SET: marketing\r\nx-ses-message-tags: campaign=fall,\r\n team=growth\r\n"
      "Subject: s\r\n",
      t);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->section.find("X-SES"), std::string::npos);
  EXPECT_EQ(r->section.find("x-ses"), std::string::npos);
  EXPECT_EQ(r->configuration_set, "marketing");
  EXPECT_EQ(r->message_tags, "campaign=fall, team=growth") << "unfolded";
  auto none = apply_submission_fixups("From: a@example.com\r\n", t);
  EXPECT_FALSE(none->configuration_set);
  EXPECT_FALSE(none->message_tags);
}
