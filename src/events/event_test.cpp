#include "events/event.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

using namespace smtpsd;

TEST(events, every_field_present_null_where_unknown) {
  events::event e;
  e.type = "delivery";
  e.time = base::time_point{std::chrono::seconds{1'800'000'000}};
  e.queue_id = "06H0BWCP3SB0ABTB";
  e.from = "";
  e.recipients = {"bob@example.org"};
  auto j = nlohmann::json::parse(events::to_json(e));
  for (auto k : {"type", "time", "queue_id", "message_id", "account", "from", "recipients", "smtp_response", "remote_mta"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["time"], "2027-01-15T08:00:00Z");
  EXPECT_TRUE(j["message_id"].is_null());
  EXPECT_EQ(j["from"], "") << "the null sender is a value, not unknown";
  EXPECT_EQ(j["recipients"][0], "bob@example.org");
}

TEST(events, jsonl_appends_lines) {
  char tmpl[] = "/tmp/smtpsd-events-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  {
    events::jsonl_sink s(dir / "events.jsonl");
    events::event e;
    e.type = "send";
    e.smtp_response = "250 bad \xff utf-8";
    s.emit(e);
    s.emit(e);
  }
  std::ifstream in(dir / "events.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(nlohmann::json::parse(line)["type"], "send");
    ++n;
  }
  EXPECT_EQ(n, 2);
  std::filesystem::remove_all(dir);
}
