#include "store/replay.hpp"

#include <gtest/gtest.h>

#include "base/time_format.hpp"

namespace smtpsd {
namespace {

store::queued_message sample() {
  store::queued_message m;
  m.id = "06H2Q8VV35YV1S54";
  m.account_id = 7;
  m.account = "acme";
  m.from = "alice@example.com";
  m.size = 4249;
  m.created = base::from_unix_seconds(1'800'000'000) + std::chrono::milliseconds(123);
  m.message_id = "<1@example.com>";
  m.envid = "env+2Bid";
  m.ret = base::dsn_ret::hdrs;
  m.body = base::body_type::eight_bit_mime;
  m.smtputf8 = true;
  m.tls = base::tls_demand::required;
  m.configuration_set = "marketing";
  m.tags = {{"campaign", "fall"}, {"kind", "news"}};
  m.client_ip = "192.0.2.1";
  m.recipients.push_back({"bob@example.org", "rfc822;bob@example.org", base::dsn_notify(3), store::rcpt_status::queued,
                          0, std::nullopt, "", std::nullopt});
  m.recipients.push_back({"carol@example.net", "", base::dsn_notify(), store::rcpt_status::deferred, 2,
                          base::from_unix_seconds(1'800'000'600), "451 4.7.1 later",
                          base::from_unix_seconds(1'800'000'300)});
  return m;
}

}  // namespace

TEST(replay, a_message_and_its_events_come_back_field_for_field) {
  const auto m = sample();
  std::vector<store::stored_event> events(1);
  events[0].id = "01a22ba3-7b1a-7a01-b5df-a21ac644a44a";
  events[0].time = base::from_unix_seconds(1'800'000'000) + std::chrono::milliseconds(456);
  events[0].type = "send";
  events[0].account = "acme";
  events[0].configuration_set = "marketing";
  events[0].recipients = 2;
  events[0].record = R"({"type":"send"})";
  auto back = store::decode_replay(store::encode_replay(m, events));
  ASSERT_TRUE(back);
  const auto& b = back->message;
  EXPECT_EQ(b.id, m.id);
  EXPECT_EQ(b.account_id, 7);
  EXPECT_EQ(b.account, "acme");
  EXPECT_EQ(b.from, m.from);
  EXPECT_EQ(b.size, 4249u);
  EXPECT_EQ(b.created, m.created);
  EXPECT_EQ(b.message_id, m.message_id);
  EXPECT_EQ(b.envid, m.envid);
  EXPECT_EQ(b.ret, base::dsn_ret::hdrs);
  EXPECT_EQ(b.body, base::body_type::eight_bit_mime);
  EXPECT_TRUE(b.smtputf8);
  EXPECT_EQ(b.tls, base::tls_demand::required);
  EXPECT_EQ(b.configuration_set, "marketing");
  EXPECT_EQ(b.tags, m.tags);
  EXPECT_EQ(b.client_ip, "192.0.2.1");
  ASSERT_EQ(b.recipients.size(), 2u);
  EXPECT_EQ(b.recipients[0].orcpt, "rfc822;bob@example.org");
  EXPECT_EQ(b.recipients[0].notify, base::dsn_notify(3));
  EXPECT_FALSE(b.recipients[0].next_attempt);
  EXPECT_EQ(b.recipients[1].status, store::rcpt_status::deferred);
  EXPECT_EQ(b.recipients[1].attempts, 2u);
  EXPECT_EQ(b.recipients[1].next_attempt, m.recipients[1].next_attempt);
  EXPECT_EQ(b.recipients[1].last_response, "451 4.7.1 later");
  EXPECT_EQ(b.recipients[1].delay_warned, m.recipients[1].delay_warned);
  ASSERT_EQ(back->events.size(), 1u);
  EXPECT_EQ(back->events[0].id, events[0].id);
  EXPECT_EQ(back->events[0].time, events[0].time);
  EXPECT_EQ(back->events[0].type, "send");
  EXPECT_EQ(back->events[0].configuration_set, "marketing");
  EXPECT_EQ(back->events[0].recipients, 2u);
  EXPECT_EQ(back->events[0].record, events[0].record);
}

TEST(replay, torn_or_altered_data_is_refused) {
  const auto data = store::encode_replay(sample(), {});
  ASSERT_TRUE(store::decode_replay(data));
  EXPECT_FALSE(store::decode_replay(""));
  EXPECT_FALSE(store::decode_replay(data.substr(0, data.size() - 1))) << "torn";
  auto flipped = data;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_FALSE(store::decode_replay(flipped)) << "one bit changed";
  auto later = data;
  later[4] = 2;  // a version this build does not know
  EXPECT_FALSE(store::decode_replay(later));
}

}  // namespace smtpsd
