// The queue manager with in-memory stores, a fake deliverer and a manual
// clock: retries, expiry, fan-out by next hop, one DSN per failed round,
// suppression, corrupt entries, large bodies streamed.
#include "queue/queue_manager.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "base/ids.hpp"
#include "events/testing/recording_sink.hpp"
#include "store/memory/memory_stores.hpp"

using namespace smtpsd;
using namespace std::chrono_literals;
using delivery::outcome;
using delivery::outcome_kind;

namespace {

outcome remote(outcome_kind k, std::string response, std::string status) {
  outcome o;
  o.kind = k;
  o.response = std::move(response);
  o.status = std::move(status);
  o.remote_mta = "mx.test";
  o.remote = true;
  return o;
}
const outcome delivered = remote(outcome_kind::delivered, "250 2.0.0 ok", "2.0.0");
const outcome deferred = remote(outcome_kind::deferred, "451 4.3.0 later", "4.3.0");
const outcome no_user = remote(outcome_kind::failed, "550 5.1.1 no such user", "5.1.1");

class fake_deliverer final : public delivery::deliverer {
 public:
  // Outcomes per recipient, one per attempt; the last one repeats. Unlisted: delivered.
  std::map<std::string, std::vector<outcome>> script;

  delivery::next_hop route(std::string_view domain) const override {
    return {"mx:" + std::string(domain), delivery::next_hop::kind::mx, std::string(domain), 25, {}};
  }
  net::awaitable<std::vector<outcome>> deliver(const delivery::job& j) override {
    std::string got;
    auto src = j.open();
    for (;;) {
      auto chunk = co_await src->next();
      if (chunk.empty()) break;
      got += chunk;
    }
    std::vector<outcome> out;
    std::lock_guard l(mu);
    for (auto& r : j.rcpts) {
      auto& seq = script[r.address];
      const auto n = tries[r.address]++;
      out.push_back(seq.empty() ? delivered : seq[std::min<std::size_t>(n, seq.size() - 1)]);
    }
    jobs.push_back(j);
    contents.push_back(std::move(got));
    co_return out;
  }
  void reap(bool) override {}
  void shutdown() override {}

  std::vector<delivery::job> jobs_seen() {
    std::lock_guard l(mu);
    return jobs;
  }
  std::mutex mu;
  std::vector<delivery::job> jobs;
  std::vector<std::string> contents;
  std::map<std::string, std::size_t> tries;
};


class recording_writer final : public submission::queue_writer {
 public:
  void enqueue_generated(const submission::generated_message& m, std::function<void(const std::string&)> done) override {
    std::lock_guard l(mu_);
    all_.push_back(m);
    if (done) done("GENERATED");
  }
  void on_committed(submission::committed_mail* to) override {
    std::lock_guard l(mu_);
    on_committed_ = to;
  }
  std::vector<submission::generated_message> all() {
    std::lock_guard l(mu_);
    return all_;
  }
  bool listening() {
    std::lock_guard l(mu_);
    return on_committed_ != nullptr;
  }

 private:
  std::mutex mu_;
  std::vector<submission::generated_message> all_;
  submission::committed_mail* on_committed_ = nullptr;
};

// Always the middle of the range: no jitter.
class fixed_random final : public base::random_source {
 public:
  std::uint64_t next_u64() override { return 1000; }
};

struct manager_fixture {
  store::stores s = store::memory::open();
  net::worker_pool pool{2};
  base::manual_clock clock;
  fixed_random random;
  events::testing::recording_sink events;
  recording_writer writer;
  fake_deliverer* d = nullptr;
  std::unique_ptr<queue::queue_manager> qm;
  int serial = 0;
  std::int64_t last_token = 0;  // of the last message enqueue() leased

  explicit manager_fixture(std::chrono::seconds max_age = 5 * 24h, std::chrono::seconds delay_warning = 0s) {
    auto fake = std::make_unique<fake_deliverer>();
    d = fake.get();
    queue::manager_settings ms;
    ms.hostname = "mail.test";
    ms.max_queue_age = max_age;
    ms.delay_warning = delay_warning;
    qm = std::make_unique<queue::queue_manager>(s, std::move(fake), ms,
                                                queue::manager_services{&pool, &events, &clock, &random, &writer});
  }
  ~manager_fixture() {
    qm->stop(0s);
    pool.stop();  // before the manager's io_context goes: a pool thread may still hold its executor
  }

  std::string enqueue(const std::vector<std::string>& rcpts, std::string body = "Hello.\r\n", std::string from = "alice@example.com",
                      base::dsn_notify notify = {}, bool with_body = true, store::enqueue_lease lease = {}) {
    store::queued_message m;
    m.id = base::make_queue_id(clock.now(), static_cast<std::uint32_t>(++serial));
    m.account = "acme";
    m.from = std::move(from);
    m.created = clock.now();
    m.message_id = "<" + m.id + "@mail.test>";
    for (auto& r : rcpts) {
      store::queued_recipient q;
      q.address = r;
      q.notify = notify;
      q.next_attempt = clock.now();
      m.recipients.push_back(q);
    }
    if (with_body) {
      auto w = s.bodies->create(m.id);
      w->write_body(body);
      w->finish("Subject: test\r\nMessage-ID: " + m.message_id + "\r\n");
      m.size = w->size();
    }
    const auto tokens = s.queue->enqueue(std::span(&m, 1), {}, lease);
    last_token = tokens.empty() ? 0 : tokens.front();
    return m.id;
  }

  template <class F>
  void wait_for(F done, const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) FAIL() << "timed out waiting for " << what;
      std::this_thread::sleep_for(2ms);
    }
  }
  void wait_empty() {
    wait_for([&] { return s.queue->count() == 0; }, "the queue to empty");
  }
};

// The content as the manager_fixture spools it.
std::string as_spooled(const std::string& id, const std::string& body) {
  return "Subject: test\r\nMessage-ID: <" + id + "@mail.test>\r\n\r\n" + body;
}

}  // namespace

TEST(queue_manager, deferred_then_retried_after_the_backoff) {
  manager_fixture f;
  f.d->script["bob@a.test"] = {deferred, delivered};
  const auto t0 = f.clock.now();
  auto id = f.enqueue({"bob@a.test"});
  f.qm->start();
  f.wait_for([&] { return f.events.of("delivery_delay").size() == 1; }, "the deferral");
  auto m = f.s.queue->get(id);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->recipients[0].status, store::rcpt_status::deferred);
  EXPECT_EQ(m->recipients[0].attempts, 1u);
  EXPECT_EQ(m->recipients[0].next_attempt, t0 + 60s) << "the first back-off is a minute";
  EXPECT_EQ(m->recipients[0].last_response, "451 4.3.0 later");

  f.clock.advance(30s);
  f.qm->wake();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(f.d->jobs_seen().size(), 1u) << "not due yet";

  f.clock.advance(31s);
  f.qm->wake();
  f.wait_empty();
  EXPECT_EQ(f.d->jobs_seen().size(), 2u);
  f.wait_for([&] { return !f.events.of("delivery").empty(); }, "the delivery event");
  auto done = f.events.of("delivery");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].recipients, std::vector<std::string>{"bob@a.test"});
  EXPECT_EQ(done[0].queue_id, id);
  EXPECT_TRUE(f.writer.all().empty()) << "no DSN for a delivery";
  // The entry goes first, then its body, in a later pool job.
  f.wait_for([&] { return !f.s.bodies->open(id); }, "the body to go with the queue entry");
}

TEST(queue_manager, a_recipient_deferred_past_the_queue_age_expires_with_one_dsn) {
  manager_fixture f(1h);
  f.d->script["bob@a.test"] = {deferred};
  auto id = f.enqueue({"bob@a.test"});
  f.qm->start();
  f.wait_for([&] { return f.events.of("delivery_delay").size() == 1; }, "the deferral");
  f.clock.advance(2h);
  f.qm->wake();
  f.wait_empty();
  f.wait_for([&] { return !f.events.of("bounce").empty(); }, "the bounce event");
  auto bounce = f.events.of("bounce");
  ASSERT_EQ(bounce.size(), 1u);
  EXPECT_EQ(bounce[0].smtp_response, "451 4.4.7 Delivery time expired; last attempt: 451 4.3.0 later");
  f.wait_for([&] { return f.writer.all().size() == 1; }, "the DSN");
  auto dsn = f.writer.all()[0];
  EXPECT_EQ(dsn.from, "");
  EXPECT_EQ(dsn.to, "alice@example.com");
  EXPECT_NE(dsn.content.find("Action: failed"), std::string::npos);
  EXPECT_NE(dsn.content.find("Status: 4.4.7"), std::string::npos);
  EXPECT_NE(dsn.content.find(id), std::string::npos);
  EXPECT_FALSE(f.s.suppressions->find("bob@a.test")) << "an expiry is not a hard bounce";
}

TEST(queue_manager, a_long_deferral_sends_a_delay_dsn_once_per_warning_period) {
  manager_fixture f(5 * 24h, 4h);
  const auto t0 = f.clock.now();
  f.d->script["bob@a.test"] = {deferred};
  f.d->script["carol@a.test"] = {deferred};
  auto warned = f.enqueue({"bob@a.test"});  // NOTIFY not given: failures and delays
  auto quiet = f.enqueue({"carol@a.test"}, "Hello.\r\n", "alice@example.com", base::dsn_notify(base::dsn_notify::failure));
  f.qm->start();
  // Attempt after attempt, each when it is due, until nine hours have passed.
  unsigned attempts = 0;
  while (f.clock.now() - t0 < 9h) {
    f.wait_for([&] { return f.events.of("delivery_delay").size() >= 2 * (attempts + 1); }, "the round's deferrals");
    ++attempts;
    auto m = f.s.queue->get(warned);
    ASSERT_TRUE(m && m->recipients[0].next_attempt);
    const auto later = std::max(*m->recipients[0].next_attempt, *f.s.queue->get(quiet)->recipients[0].next_attempt);
    f.clock.advance(std::chrono::duration_cast<std::chrono::seconds>(later - f.clock.now()) + 1s);
    f.qm->wake();
  }
  f.wait_for([&] { return f.events.of("delivery_delay").size() >= 2 * (attempts + 1); }, "the last deferrals");
  auto about = [&] {
    std::size_t n = 0;
    for (auto& d : f.writer.all()) n += d.content.find(warned) != std::string::npos;
    return n;
  };
  f.wait_for([&] { return about() >= 2; }, "two delay DSNs");  // written after each round is recorded
  auto dsns = f.writer.all();
  std::vector<std::string> about_warned;
  for (auto& d : dsns) {
    EXPECT_EQ(d.content.find(quiet), std::string::npos) << "NOTIFY=FAILURE: no delay DSN";
    if (d.content.find(warned) != std::string::npos) about_warned.push_back(d.content);
  }
  ASSERT_EQ(about_warned.size(), 2u) << "after 4 hours and after 8, not at every one of " << attempts << " attempts";
  for (auto& c : about_warned) {
    EXPECT_NE(c.find("Action: delayed"), std::string::npos);
    EXPECT_NE(c.find("Status: 4.3.0"), std::string::npos);
    EXPECT_NE(c.find("Subject: Delayed Mail"), std::string::npos);
  }
  ASSERT_TRUE(f.s.queue->get(warned)->recipients[0].delay_warned);
  EXPECT_GE(*f.s.queue->get(warned)->recipients[0].delay_warned - t0, 8h);
}

TEST(queue_manager, recipients_fan_out_by_next_hop) {
  manager_fixture f;
  const std::string body = "Fan out.\r\n";
  auto id = f.enqueue({"a1@a.test", "b@b.test", "a2@A.test", "c@c.test"}, body);
  f.qm->start();
  f.wait_empty();
  auto jobs = f.d->jobs_seen();
  ASSERT_EQ(jobs.size(), 3u);
  std::map<std::string, std::vector<std::string>> by_hop;
  for (auto& j : jobs)
    for (auto& r : j.rcpts) by_hop[j.hop.key].push_back(r.address);
  EXPECT_EQ(by_hop["mx:a.test"], (std::vector<std::string>{"a1@a.test", "a2@A.test"}));
  EXPECT_EQ(by_hop["mx:b.test"], std::vector<std::string>{"b@b.test"});
  EXPECT_EQ(by_hop["mx:c.test"], std::vector<std::string>{"c@c.test"});
  for (auto& c : f.d->contents) EXPECT_EQ(c, as_spooled(id, body));
  f.wait_for([&] { return !f.events.of("delivery").empty(); }, "the delivery event");
  auto done = f.events.of("delivery");
  ASSERT_EQ(done.size(), 1u) << "one event for the recipients of one result";
  EXPECT_EQ(done[0].recipients.size(), 4u);
}

TEST(queue_manager, failures_of_one_round_make_one_dsn_and_hard_bounces_are_suppressed) {
  manager_fixture f;
  f.d->script["x@a.test"] = {no_user};
  f.d->script["y@b.test"] = {no_user};
  f.enqueue({"x@a.test", "y@b.test", "z@c.test"});
  f.qm->start();
  f.wait_empty();
  f.wait_for([&] { return !f.writer.all().empty(); }, "the DSN");
  f.wait_for([&] { return f.s.suppressions->find("y@b.test").has_value(); }, "the suppression");
  std::this_thread::sleep_for(50ms);
  auto dsns = f.writer.all();
  ASSERT_EQ(dsns.size(), 1u) << "one DSN for the message";
  EXPECT_NE(dsns[0].content.find("Final-Recipient: rfc822; x@a.test"), std::string::npos);
  EXPECT_NE(dsns[0].content.find("Final-Recipient: rfc822; y@b.test"), std::string::npos);
  EXPECT_EQ(dsns[0].content.find("z@c.test"), std::string::npos) << "the delivered one is not reported";
  EXPECT_TRUE(f.s.suppressions->find("x@a.test"));
  EXPECT_FALSE(f.s.suppressions->find("z@c.test"));
  EXPECT_EQ(f.events.of("bounce").at(0).recipients.size(), 2u);
}

TEST(queue_manager, no_dsn_for_notify_never_nor_for_a_bounce) {
  manager_fixture f;
  f.d->script["x@a.test"] = {no_user};
  f.enqueue({"x@a.test"}, "Hello.\r\n", "alice@example.com", base::dsn_notify(base::dsn_notify::never));
  f.enqueue({"x@a.test"}, "Hello.\r\n", "");
  f.qm->start();
  f.wait_empty();
  f.wait_for([&] { return f.events.of("bounce").size() == 2; }, "both bounces");
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(f.writer.all().empty());
}

TEST(queue_manager, a_corrupt_entry_is_moved_aside_without_delivery) {
  manager_fixture f;
  f.enqueue({"bob@a.test"}, "", "alice@example.com", {}, false);
  f.qm->start();
  f.wait_empty();
  EXPECT_TRUE(f.d->jobs_seen().empty());
}

TEST(queue_manager, a_large_body_streams_from_the_spool) {
  manager_fixture f;
  std::string big;
  while (big.size() < 3 * 1024 * 1024) big += "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n";
  auto id = f.enqueue({"a@a.test", "b@b.test"}, big);
  f.qm->start();
  f.wait_empty();
  ASSERT_EQ(f.d->contents.size(), 2u);
  for (auto& c : f.d->contents) EXPECT_TRUE(c == as_spooled(id, big)) << "content differs; size " << c.size();
}

TEST(queue_manager, new_mail_handed_over_leased_is_delivered_without_a_claim) {
  manager_fixture f;
  f.qm->start();
  std::size_t room = 0;
  f.wait_for([&] { return (room = f.qm->reserve(1000).count) > 0; }, "room once the stale leases are released");
  EXPECT_EQ(room, 100u) << "the whole window, and no more";
  EXPECT_EQ(f.qm->reserve(1).count, 0u) << "all of it reserved";
  const auto until = f.clock.now() + 60s;
  auto id = f.enqueue({"bob@a.test"}, "Hello.\r\n", "alice@example.com", {}, true, store::enqueue_lease{1, until});
  ASSERT_NE(f.last_token, 0);
  auto m = *f.s.queue->get(id);
  EXPECT_EQ(m.lease_token, f.last_token);
  EXPECT_TRUE(f.s.queue->claim_due(f.clock.now(), until, 10).empty()) << "leased as it was queued";
  // The committer hands the content over when the spool kept it in memory: not read back.
  const auto handed = std::make_shared<const std::string>(as_spooled(id, "From memory.\r\n"));
  std::vector<submission::committed_message> leased;
  leased.push_back({m, "Subject: test\r\n", handed});
  f.qm->taken(std::move(leased), room - 1, false);
  f.wait_empty();  // recorded under the enqueue's lease: a lost lease would leave it queued
  ASSERT_EQ(f.d->jobs_seen().size(), 1u);
  EXPECT_EQ(f.d->jobs_seen()[0].rcpts[0].address, "bob@a.test");
  ASSERT_EQ(f.d->contents.size(), 1u);
  EXPECT_EQ(f.d->contents[0], *handed) << "the content handed over, not the spool's";
  f.wait_for(
      [&] {
        const auto r = f.qm->reserve(1000).count;
        f.qm->taken({}, r, false);
        return r == 100;
      },
      "the room back when the delivery ended");
}

TEST(queue_manager, listens_for_new_mail_only_while_running) {
  manager_fixture f;
  EXPECT_FALSE(f.writer.listening());
  f.qm->start();
  EXPECT_TRUE(f.writer.listening());
  f.qm->stop(0s);
  EXPECT_FALSE(f.writer.listening());
}
