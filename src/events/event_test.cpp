#include "events/event.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "base/time_format.hpp"
#include "events/classify.hpp"
#include "events/journal.hpp"
#include "events/signature.hpp"

using namespace smtpsd;

namespace {
class counting_random final : public base::random_source {
 public:
  std::uint64_t next_u64() override { return n_++ * 0x9e3779b97f4a7c15ull; }

 private:
  std::uint64_t n_ = 1;
};
}  // namespace

TEST(events, every_field_present_null_where_unknown) {
  events::event e;
  e.type = "delivery";
  e.id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  e.time = base::time_point{std::chrono::seconds{1'800'000'000}};
  e.queue_id = "06H0BWCP3SB0ABTB";
  e.from = "";
  e.recipients = {"bob@example.org"};
  auto j = nlohmann::json::parse(events::to_json(e));
  for (auto k : {"type", "event_id", "time", "queue_id", "message_id", "account", "from", "recipients", "smtp_response",
                 "remote_mta", "configuration_set", "tags"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j.size(), 13u) << "bounce and reject fields only on those types; tls on delivery ones";
  EXPECT_TRUE(j["tls"].is_null()) << "no TLS connection known";
  EXPECT_EQ(j["time"], "2027-01-15T08:00:00Z");
  EXPECT_TRUE(j["message_id"].is_null());
  EXPECT_TRUE(j["configuration_set"].is_null());
  EXPECT_TRUE(j["tags"].is_object());
  EXPECT_EQ(j["from"], "") << "the null sender is a value, not unknown";
  EXPECT_EQ(j["recipients"][0], "bob@example.org");
}

TEST(events, tls_outcome_of_a_delivery_survives_the_record) {
  events::event e;
  e.type = "delivery";
  e.id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  e.tls = events::event::tls_info{"TLSv1.3", "TLS_AES_256_GCM_SHA384", "dane", true};
  auto j = nlohmann::json::parse(events::to_json(e));
  EXPECT_EQ(j["tls"]["version"], "TLSv1.3");
  EXPECT_EQ(j["tls"]["policy"], "dane");
  EXPECT_EQ(j["tls"]["verified"], true);
  auto back = events::from_record(events::to_record(e));
  ASSERT_TRUE(back.tls);
  EXPECT_EQ(back.tls->cipher, "TLS_AES_256_GCM_SHA384");
  EXPECT_TRUE(back.tls->verified);
  e.type = "send";
  EXPECT_FALSE(nlohmann::json::parse(events::to_json(e)).contains("tls")) << "only on delivery events";
}

TEST(events, bounce_and_reject_fields) {
  events::event e;
  e.type = "bounce";
  e.bounce_type = "Permanent";
  e.bounce_sub_type = "General";
  e.tags = {{"campaign", "fall"}};
  auto j = nlohmann::json::parse(events::to_json(e));
  EXPECT_EQ(j["bounce_type"], "Permanent");
  EXPECT_EQ(j["bounce_sub_type"], "General");
  EXPECT_EQ(j["tags"]["campaign"], "fall");
  e.type = "reject";
  e.reason = "send_rate";
  auto r = nlohmann::json::parse(events::to_json(e));
  EXPECT_EQ(r["reason"], "send_rate");
  EXPECT_FALSE(r.contains("bounce_type"));
}

namespace {
// An event about a message from a@example.com to b@example.org in account acme.
events::event message_event(std::string type) {
  events::event e;
  e.id = "id-1";
  e.type = std::move(type);
  e.time = base::time_point{std::chrono::milliseconds{1'800'000'000'123}};
  e.queue_id = "Q";
  e.account = "acme";
  e.from = "a@example.com";
  e.recipients = {"b@example.org"};
  return e;
}
}  // namespace

TEST(events, the_stored_record_keeps_everything) {
  auto e = message_event("delivery_delay");
  e.configuration_set = "marketing";
  e.tags = {{"z", "1"}, {"a", "2"}};
  e.details = {{"b@example.org", "4.4.1", "451 4.4.1 no answer"}};
  e.mail.submitted = base::time_point{std::chrono::milliseconds{1'799'999'999'000}};
  e.mail.destination = {"b@example.org", "c@example.org"};
  e.mail.header_section = "Subject: hi\r\n";
  e.mail.client_ip = "192.0.2.1";
  e.remote_ip = "198.51.100.2";
  e.processing = std::chrono::milliseconds(1234);
  e.expires = base::time_point{std::chrono::seconds{1'800'432'000}};
  auto back = events::from_record(events::to_record(e));
  EXPECT_EQ(events::to_json(back), events::to_json(e));
  EXPECT_EQ(back.time, e.time) << "milliseconds kept";
  EXPECT_EQ(back.tags, e.tags) << "order kept";
  ASSERT_EQ(back.details.size(), 1u);
  EXPECT_EQ(back.details[0].diagnostic, "451 4.4.1 no answer");
  EXPECT_EQ(back.mail.destination, e.mail.destination);
  EXPECT_EQ(back.mail.header_section, e.mail.header_section);
  EXPECT_EQ(back.mail.client_ip, "192.0.2.1");
  EXPECT_EQ(back.remote_ip, "198.51.100.2");
  EXPECT_EQ(back.processing, e.processing);
  EXPECT_EQ(back.expires, e.expires);
  EXPECT_THROW(events::from_record("{\"type\":\"send\"}"), std::runtime_error);
}

TEST(events, the_journal_line_rendered_with_the_record_is_the_smtpsd_object) {
  auto e = message_event("send");
  e.recipients.push_back("c\"@example.org");
  e.tags = {{"x", "1"}, {"time_ms", "2"}};  // names the record's own members use
  e.mail.header_section = "Subject: \"x\":{\"time_ms\":1}\r\n";
  const auto plain = events::to_stored(e);
  const auto with_line = events::to_stored_rendering_line(e);
  EXPECT_EQ(with_line.record, plain.record);
  EXPECT_EQ(e.journal_line, events::to_json(e) + "\n");
  std::string lines;
  events::append_json(lines, e);
  EXPECT_EQ(lines + "\n", e.journal_line);
}

TEST(events, ids_are_unique_uuid_v7_in_time_order) {
  counting_random r;
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    auto id = events::make_event_id(base::time_point{std::chrono::milliseconds{1'800'000'000'000 + i}}, r);
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '7') << "version 7";
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << "RFC 9562 variant";
    EXPECT_GT(id, previous);
    previous = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(events, headers_for_the_ses_mail_object_are_unfolded_and_bounded) {
  auto m = events::headers_of("From: a@example.com\r\nSubject: one\r\n two\r\n");
  auto fields = events::header_fields(m);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[1], (std::pair<std::string, std::string>{"Subject", "one two"}));
  EXPECT_FALSE(m.headers_truncated);
  std::string big;
  for (int i = 0; i < 500; ++i) big += "X-Long-" + std::to_string(i) + ": " + std::string(40, 'v') + "\r\n";
  auto cut = events::headers_of(big);
  EXPECT_TRUE(cut.headers_truncated);
  EXPECT_LE(cut.header_section.size(), events::max_header_bytes);
  auto kept = events::header_fields(cut);
  ASSERT_FALSE(kept.empty());
  EXPECT_LT(kept.size(), 500u);
  EXPECT_EQ(kept.back().second, std::string(40, 'v')) << "cut between whole fields";
}

TEST(events, records_written_with_parsed_header_fields_are_still_read) {
  const std::string old_record =
      R"({"type":"send","event_id":"e1","time":"2027-01-15T08:00:00Z","queue_id":"Q1","message_id":null,)"
      R"("account":"acme","from":"a@example.com","recipients":["b@example.org"],"smtp_response":null,)"
      R"("remote_mta":null,"configuration_set":null,"tags":{},"x":{"time_ms":1800000000000,"tags":[],)"
      R"("bounce_type":"","bounce_sub_type":"","reason":"","details":[],"mail":{"submitted_ms":1800000000000,)"
      R"("destination":["b@example.org"],"headers":[["From","a@example.com"],["Subject","one two"]],)"
      R"("headers_truncated":false,"client_ip":""},"remote_ip":"","processing_ms":0}})";
  auto e = events::from_record(old_record);
  auto fields = events::header_fields(e.mail);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[1], (std::pair<std::string, std::string>{"Subject", "one two"}));
}

TEST(events, bounce_classes_as_ses_names_them) {
  using events::bounce_class;
  EXPECT_EQ(events::classify_bounce("5.1.1", "550 5.1.1 no such user"), (bounce_class{"Permanent", "General"}));
  EXPECT_EQ(events::classify_bounce("5.2.2", "552 5.2.2 mailbox full"), (bounce_class{"Transient", "MailboxFull"}));
  EXPECT_EQ(events::classify_bounce("4.2.2", "452 4.2.2 over quota"), (bounce_class{"Transient", "MailboxFull"}));
  EXPECT_EQ(events::classify_bounce("5.3.4", "552 5.3.4 message too big"), (bounce_class{"Transient", "MessageTooLarge"}));
  EXPECT_EQ(events::classify_bounce("5.7.1", "550 5.7.1 message rejected as spam"), (bounce_class{"Transient", "ContentRejected"}));
  EXPECT_EQ(events::classify_bounce("5.7.1", "550 5.7.1 attachment type not allowed"),
            (bounce_class{"Transient", "AttachmentRejected"}));
  EXPECT_EQ(events::classify_bounce("4.4.7", "451 4.4.7 Delivery time expired"), (bounce_class{"Transient", "General"}));
  EXPECT_EQ(events::classify_bounce("5.1.10", "550 5.1.10 null MX"), (bounce_class{"Permanent", "General"}));
  EXPECT_EQ(events::classify_bounce("", "no status"), (bounce_class{"Undetermined", "Undetermined"}));
  EXPECT_EQ(events::classify_delay("4.4.1", "451 4.4.1 no mail host answered", false), "TransientCommunicationFailure");
  EXPECT_EQ(events::classify_delay("4.3.0", "451 4.3.0 try later", true), "RecipientServerError");
}

TEST(events, signature_is_hmac_sha256_of_timestamp_dot_body) {
  // RFC 4231 test case 2 (key "Jefe"), as the text t + "." + body.
  EXPECT_EQ(events::hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(events::signature_header("Jefe", 1800000000, "{}"),
            "t=1800000000,v1=" + events::hmac_sha256_hex("Jefe", "1800000000.{}"));
}

TEST(events, journal_appends_lines) {
  char tmpl[] = "/tmp/smtpsd-events-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  {
    events::journal j(dir / "events.jsonl");
    events::event e;
    e.type = "send";
    e.smtp_response = "250 bad \xff utf-8";
    j.write(e);
    j.write(e);
    std::vector<events::event> batch(3, e);  // a group commit's events: one write, one line each
    batch[1].type = "delivery";
    j.write(batch);
  }
  std::ifstream in(dir / "events.jsonl");
  std::string line;
  std::vector<std::string> types;
  while (std::getline(in, line)) types.push_back(nlohmann::json::parse(line)["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"send", "send", "send", "delivery", "send"}));
  std::filesystem::remove_all(dir);
}
