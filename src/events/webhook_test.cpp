// One webhook against an in-process HTTP receiver and the in-memory event
// store: order, signatures, retries with back-off, dead letters, filters,
// the cursor.
#include "events/webhook.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "events/event.hpp"
#include "events/signature.hpp"
#include "net/testing/fake_http_server.hpp"
#include "store/memory/memory_stores.hpp"

using namespace smtpsd;
using namespace std::chrono_literals;

namespace {

struct webhook_harness {
  net::asio::io_context io;
  net::worker_pool pool{1};
  store::stores s = store::memory::open();
  net::testing::fake_http_server receiver{io};
  std::unique_ptr<events::log_reader> log;
  std::unique_ptr<events::webhook> hook;
  bool running = false;

  explicit webhook_harness(std::function<void(events::webhook_settings&)> tweak = {}) {
    events::webhook_settings w;
    w.name = "test";
    w.url = receiver.url();
    w.secret = "s3cret";
    w.max_backoff = 1s;
    if (tweak) tweak(w);
    log = std::make_unique<events::log_reader>(s.events);
    hook = std::make_unique<events::webhook>(io.get_executor(), w, *log, s.events, nullptr, pool, base::real_clock(),
                                             "mail.test");
  }
  ~webhook_harness() {
    if (running) {
      hook->stop();
      run_until([&] { return !running; }, 5s);
    }
  }
  void start() {
    running = true;
    net::asio::co_spawn(io, hook->run(), [this](std::exception_ptr) { running = false; });
  }
  std::string append(const std::string& type, const std::string& account = "acme") {
    events::event e;
    e.id = events::make_event_id(base::real_clock().now(), base::real_random());
    e.type = type;
    e.time = base::real_clock().now();
    e.account = account;
    e.queue_id = "Q";
    s.events->append(std::vector<store::stored_event>{events::to_stored(e)});
    hook->wake();
    return e.id;
  }
  template <class F>
  bool run_until(F done, std::chrono::seconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.run_for(10ms);
    }
    return true;
  }
};

}  // namespace

TEST(webhook, answers) {
  using events::answer;
  EXPECT_EQ(events::judge(200), answer::delivered);
  EXPECT_EQ(events::judge(204), answer::delivered);
  EXPECT_EQ(events::judge(500), answer::retry);
  EXPECT_EQ(events::judge(503), answer::retry);
  EXPECT_EQ(events::judge(408), answer::retry);
  EXPECT_EQ(events::judge(429), answer::retry);
  EXPECT_EQ(events::judge(400), answer::dead);
  EXPECT_EQ(events::judge(410), answer::dead);
  EXPECT_EQ(events::backoff(1, 3600s), 1s);
  EXPECT_EQ(events::backoff(2, 3600s), 2s);
  EXPECT_EQ(events::backoff(5, 3600s), 16s);
  EXPECT_EQ(events::backoff(40, 3600s), 3600s);
}

TEST(webhook, posts_each_event_once_in_order_with_a_valid_signature) {
  webhook_harness h;
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test").has_value(); }));
  std::vector<std::string> ids;
  for (auto* t : {"send", "delivery", "bounce"}) ids.push_back(h.append(t));
  ASSERT_TRUE(h.run_until([&] { return h.receiver.requests.size() == 3; }));
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& r = h.receiver.requests[i];
    EXPECT_EQ(r.event_id, ids[i]);
    auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["event_id"], ids[i]);
    // t=UNIX,v1=HMAC-SHA256(secret, t + "." + body)
    const auto t = r.signature.substr(2, r.signature.find(',') - 2);
    EXPECT_EQ(r.signature, events::signature_header("s3cret", std::stoll(t), r.body));
  }
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test") == h.s.events->last_seq(); }))
      << "the cursor is saved past what was delivered";
  EXPECT_EQ(h.hook->backlog(), 0);
}

TEST(webhook, a_backlog_goes_in_pipelined_batches) {
  webhook_harness h([](events::webhook_settings& w) {
    w.pipeline = 8;
    w.max_in_flight = 2;
    w.timeout = 3s;
  });
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test").has_value(); }));
  // The receiver answers nothing before it has 8 requests: only a batch of 8 written at once gets answers.
  h.receiver.answer_after = 8;
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) ids.push_back(h.append("send"));
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test") == h.s.events->last_seq(); }));
  ASSERT_EQ(h.receiver.requests.size(), 16u) << "each once: no timeouts, no retries";
  std::set<std::string> got;
  for (auto& r : h.receiver.requests) got.insert(r.event_id);
  EXPECT_EQ(got, std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_LE(h.receiver.connections, 2);
}

TEST(webhook, a_new_webhook_starts_at_the_end_of_the_log) {
  webhook_harness h;
  h.append("send");  // before the webhook ever ran
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test").has_value(); }));
  h.append("delivery");
  ASSERT_TRUE(h.run_until([&] { return h.receiver.requests.size() == 1; }));
  EXPECT_EQ(nlohmann::json::parse(h.receiver.requests[0].body)["type"], "delivery");
}

TEST(webhook, server_errors_are_retried_and_nothing_is_lost) {
  webhook_harness h;
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test").has_value(); }));
  h.receiver.script = {500, 503, 429};
  auto a = h.append("send");
  auto b = h.append("delivery");
  ASSERT_TRUE(h.run_until([&] {
    int ok = 0;
    for (auto& r : h.receiver.requests) ok += r.event_id == a || r.event_id == b;
    return h.receiver.script.empty() && h.s.events->cursor("test") == h.s.events->last_seq() && ok >= 2;
  }));
  std::set<std::string> got;
  for (auto& r : h.receiver.requests) got.insert(r.event_id);
  EXPECT_EQ(got, (std::set<std::string>{a, b})) << "only these, each at least once";
  EXPECT_TRUE(h.s.events->dead_letters("test").empty());
}

TEST(webhook, a_client_error_dead_letters_at_once_and_the_others_go_on) {
  webhook_harness h;
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test").has_value(); }));
  h.receiver.script = {400};
  auto bad = h.append("send");
  auto good = h.append("delivery");
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test") == h.s.events->last_seq(); }));
  auto dead = h.s.events->dead_letters("test");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].event.id, bad);
  EXPECT_EQ(dead[0].reason, "HTTP 400");
  int bad_tries = 0;
  for (auto& r : h.receiver.requests) bad_tries += r.event_id == bad;
  EXPECT_EQ(bad_tries, 1) << "a 400 will not get better: not retried";
  EXPECT_EQ(h.receiver.requests.back().event_id, good);

  // Asked for again: sent once more and forgotten.
  EXPECT_EQ(h.s.events->request_redelivery("test", bad), 1u);
  ASSERT_TRUE(h.run_until([&] { return h.s.events->dead_letters("test").empty(); }));
  EXPECT_EQ(h.receiver.requests.back().event_id, bad);
}

TEST(webhook, filters_by_type_and_account) {
  webhook_harness h([](events::webhook_settings& w) {
    w.types = {"bounce"};
    w.accounts = {"acme"};
  });
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test").has_value(); }));
  h.append("send");
  h.append("bounce", "other");
  auto wanted = h.append("bounce");
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test") == h.s.events->last_seq(); }));
  ASSERT_EQ(h.receiver.requests.size(), 1u);
  EXPECT_EQ(h.receiver.requests[0].event_id, wanted);
}

TEST(webhook, ses_format) {
  webhook_harness h([](events::webhook_settings& w) { w.fmt = events::webhook_settings::format::ses; });
  h.start();
  ASSERT_TRUE(h.run_until([&] { return h.s.events->cursor("test").has_value(); }));
  h.append("delivery");
  ASSERT_TRUE(h.run_until([&] { return h.receiver.requests.size() == 1; }));
  auto body = nlohmann::json::parse(h.receiver.requests[0].body);
  EXPECT_EQ(body["eventType"], "Delivery");
  EXPECT_TRUE(body.contains("mail"));
}
