// The SES format against the shapes of SES's own records (tests/fixtures/ses).
#include "events/ses.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

using namespace smtpsd;
using json = nlohmann::json;

namespace {

json ses_fixture(const std::string& name) {
  std::ifstream in(std::string(SMTPSD_SOURCE_DIR) + "/tests/fixtures/ses/" + name + ".json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

bool open_map(const std::string& path) { return path == ".mail.tags" || path == ".mail.commonHeaders"; }

// Same names, nesting and JSON types; null in the fixture takes null or a string.
void same_shape(const json& want, const json& got, const std::string& path) {
  if (want.is_null()) {
    EXPECT_TRUE(got.is_null() || got.is_string()) << path;
    return;
  }
  ASSERT_EQ(want.is_number(), got.is_number()) << path << ": " << got.dump();
  if (want.is_number()) return;
  ASSERT_EQ(want.type_name(), std::string(got.type_name())) << path << ": " << got.dump();
  if (want.is_object()) {
    for (auto& [k, v] : want.items()) {
      if (open_map(path) && !got.contains(k)) continue;
      ASSERT_TRUE(got.contains(k)) << path << "." << k << " missing in " << got.dump();
      same_shape(v, got[k], path + "." + k);
    }
    if (!open_map(path)) {
      for (auto& [k, v] : got.items()) EXPECT_TRUE(want.contains(k)) << path << "." << k << " is not in SES's record";
    }
  } else if (want.is_array() && !want.empty() && !got.empty()) {
    for (auto& g : got) same_shape(want[0], g, path + "[]");
  }
}

events::event sample(const std::string& type) {
  events::event e;
  e.id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  e.type = type;
  e.time = base::time_point{std::chrono::milliseconds{1'800'000'001'234}};
  e.queue_id = "06H0BWCP3SB0ABTB";
  e.message_id = "<1@example.com>";
  e.account = "app";
  e.from = "sender@example.com";
  e.recipients = {"recipient@example.org"};
  e.smtp_response = "250 2.0.0 OK";
  e.remote_mta = "mx.example.org";
  e.remote_ip = "198.51.100.7";
  e.configuration_set = "transactional";
  e.tags = {{"campaign", "fall"}};
  e.details = {{"recipient@example.org", "5.1.1", "550 5.1.1 no such user"}};
  e.mail.submitted = base::time_point{std::chrono::milliseconds{1'800'000'000'000}};
  e.mail.destination = {"recipient@example.org"};
  e.mail.header_section =
      "From: Sender <sender@example.com>\r\nTo: recipient@example.org\r\nSubject: Hello\r\n"
      "Message-ID: <1@example.com>\r\n";
  e.mail.client_ip = "192.0.2.10";
  e.processing = std::chrono::milliseconds(1234);
  e.expires = base::time_point{std::chrono::seconds{1'800'432'000}};
  e.bounce_type = "Permanent";
  e.bounce_sub_type = "General";
  e.reason = type == "reject" ? "send_rate" : "";
  return e;
}

}  // namespace

TEST(ses_format, every_event_type_has_the_shape_of_ses_records) {
  for (auto [type, file] : {std::pair{"send", "send"}, std::pair{"delivery", "delivery"}, std::pair{"bounce", "bounce"},
                            std::pair{"delivery_delay", "delivery_delay"}, std::pair{"reject", "reject"},
                            std::pair{"complaint", "complaint"}}) {
    SCOPED_TRACE(type);
    auto got = json::parse(events::to_ses_json(sample(type), "mail.example.com"));
    same_shape(ses_fixture(file), got, "");
  }
}

TEST(ses_format, values) {
  auto d = json::parse(events::to_ses_json(sample("delivery"), "mail.example.com"));
  EXPECT_EQ(d["eventType"], "Delivery");
  EXPECT_EQ(d["mail"]["messageId"], "06H0BWCP3SB0ABTB");
  EXPECT_EQ(d["mail"]["timestamp"], "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(d["mail"]["commonHeaders"]["from"][0], "sender@example.com");
  EXPECT_EQ(d["mail"]["commonHeaders"]["subject"], "Hello");
  EXPECT_EQ(d["mail"]["tags"]["ses:configuration-set"][0], "transactional");
  EXPECT_EQ(d["mail"]["tags"]["campaign"][0], "fall");
  EXPECT_EQ(d["delivery"]["processingTimeMillis"], 1234);
  EXPECT_EQ(d["delivery"]["remoteMtaIp"], "198.51.100.7");
  auto b = json::parse(events::to_ses_json(sample("bounce"), "mail.example.com"));
  EXPECT_EQ(b["bounce"]["bouncedRecipients"][0]["diagnosticCode"], "smtp; 550 5.1.1 no such user");
  EXPECT_EQ(b["bounce"]["reportingMTA"], "dsn; mail.example.com");
  EXPECT_EQ(b["bounce"]["feedbackId"], "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  auto r = json::parse(events::to_ses_json(sample("reject"), "mail.example.com"));
  EXPECT_EQ(r["reject"]["reason"], "send_rate");
}
