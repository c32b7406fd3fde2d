// The group committer: what arrives while a batch syncs shares the next sync;
// a failed sync or commit answers every message of its batch with the
// storage reply and leaves no body behind.
#include "submission/group_committer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <thread>

#include "base/ids.hpp"
#include "base/time_format.hpp"
#include "store/memory/memory_stores.hpp"

using namespace smtpsd;

namespace {

// A spool whose syncs can be held and counted, or fail.
class gated_spool final : public store::spool {
 public:
  explicit gated_spool(std::shared_ptr<store::spool> inner) : inner_(std::move(inner)) {}
  std::unique_ptr<store::spool_writer> create(std::string_view id) override { return inner_->create(id); }
  void sync(std::span<store::spool_writer* const> entries) override {
    std::unique_lock l(mu_);
    batches_.push_back(entries.size());
    cv_.notify_all();
    cv_.wait(l, [&] { return !held_; });
    if (fail_) throw store::storage_full("spool: no space left on device");
    inner_->sync(entries);
  }
  void remove(std::string_view id) override { inner_->remove(id); }
  std::unique_ptr<store::spool_reader> open(std::string_view id) override { return inner_->open(id); }
  std::vector<std::string> ids() override { return inner_->ids(); }
  void quarantine(std::string_view id) override { inner_->quarantine(id); }
  std::optional<store::spool_position> synced_through() const override { return inner_->synced_through(); }
  std::optional<std::uint64_t> free_bytes() const override { return free_.load(); }
  void set_free(std::uint64_t n) { free_ = n; }

  void hold() {
    std::lock_guard l(mu_);
    held_ = true;
  }
  void release() {
    std::lock_guard l(mu_);
    held_ = false;
    cv_.notify_all();
  }
  void fail() { fail_ = true; }
  void wait_batches(std::size_t n) {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return batches_.size() >= n; });
  }
  std::vector<std::size_t> batches() {
    std::lock_guard l(mu_);
    return batches_;
  }

 private:
  std::shared_ptr<store::spool> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::size_t> batches_;
  bool held_ = false;
  std::atomic<bool> fail_{false};
  std::atomic<std::uint64_t> free_{std::uint64_t{1} << 40};
};

// Records each stored() call: the ids of its events.
class recording_sink final : public events::sink {
 public:
  void emit(events::event) override {}
  void stored(std::span<const events::event> evs) override {
    std::vector<std::string> ids;
    for (const auto& e : evs) ids.push_back(e.id);
    std::lock_guard l(mu_);
    calls_.push_back(std::move(ids));
  }
  std::vector<std::vector<std::string>> calls() {
    std::lock_guard l(mu_);
    return calls_;
  }
  bool has(const std::string& id) {
    std::lock_guard l(mu_);
    for (const auto& c : calls_)
      if (std::find(c.begin(), c.end(), id) != c.end()) return true;
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<std::vector<std::string>> calls_;
};

struct committer_fixture {
  explicit committer_fixture(submission::gathering g = {}) : committer{spool, s.queue, g} {}
  // Stores that keep replay data, so that rows may be held.
  explicit committer_fixture(submission::holding h) : s(store::memory::open(true)), committer{spool, s.queue, {}, h} {}
  store::stores s = store::memory::open();
  std::shared_ptr<gated_spool> spool = std::make_shared<gated_spool>(s.bodies);
  submission::group_committer committer;
  int serial = 0;
  std::atomic<bool> replied_before_published{false};  // written on the committer thread

  // With a sink: the message has one event (its id the queue id), and the
  // reply records whether the sink had it by then.
  std::future<submission::commit_result> submit(submission::group_committer::arrival a = {},
                                                recording_sink* sink = nullptr) {
    auto done = std::make_shared<std::promise<submission::commit_result>>();
    auto result = done->get_future();
    submission::group_committer::request r;
    r.meta.id = base::make_queue_id(base::from_unix_seconds(1'800'000'000), static_cast<std::uint32_t>(++serial));
    if (sink) {
      r.publish_to = sink;
      r.published.emplace_back().id = r.meta.id;
    }
    r.meta.from = "alice@example.com";
    r.meta.recipients.push_back({"bob@example.org", "", {}, store::rcpt_status::queued, 0, std::nullopt, "", std::nullopt});
    r.body = spool->create(r.meta.id);
    r.body->write_body("body\r\n");
    r.body->finish("Subject: x\r\n");
    r.done = [this, done, sink, id = r.meta.id](const submission::commit_result& c) {
      if (sink && !sink->has(id)) replied_before_published = true;
      done->set_value(c);
    };
    r.expected = std::move(a);
    committer.submit(std::move(r));
    return result;
  }
};

}  // namespace

TEST(group_committer, what_arrives_during_a_sync_shares_the_next_one) {
  committer_fixture f;
  f.spool->hold();
  auto first = f.submit();
  f.spool->wait_batches(1);  // the first batch is syncing (held)
  std::vector<std::future<submission::commit_result>> more;
  for (int i = 0; i < 10; ++i) more.push_back(f.submit());
  f.spool->release();
  EXPECT_FALSE(first.get());
  for (auto& m : more) EXPECT_FALSE(m.get()) << "committed";
  EXPECT_EQ(f.spool->batches(), (std::vector<std::size_t>{1, 10}));
  EXPECT_EQ(f.s.queue->count(), 11u);
}

TEST(group_committer, a_batch_publishes_its_events_in_one_call_before_any_reply) {
  committer_fixture f;
  recording_sink sink;
  f.spool->hold();
  auto first = f.submit({}, &sink);
  f.spool->wait_batches(1);
  std::vector<std::future<submission::commit_result>> more;
  for (int i = 0; i < 5; ++i) more.push_back(f.submit({}, &sink));
  f.spool->release();
  EXPECT_FALSE(first.get());
  for (auto& m : more) EXPECT_FALSE(m.get());
  const auto calls = sink.calls();
  ASSERT_EQ(calls.size(), 2u) << "one call per batch";
  EXPECT_EQ(calls[0].size(), 1u);
  EXPECT_EQ(calls[1].size(), 5u);
  EXPECT_FALSE(f.replied_before_published) << "a client's 250 follows its event";

  f.spool->fail();  // a batch that is not committed publishes nothing
  EXPECT_TRUE(f.submit({}, &sink).get());
  EXPECT_EQ(sink.calls().size(), 2u);
}

TEST(group_committer, the_reply_comes_only_after_the_sync) {
  committer_fixture f;
  f.spool->hold();
  auto r = f.submit();
  f.spool->wait_batches(1);
  EXPECT_EQ(r.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(f.s.queue->count(), 0u) << "metadata is committed after the bodies are synced";
  f.spool->release();
  EXPECT_FALSE(r.get());
  EXPECT_EQ(f.s.queue->count(), 1u);
}

TEST(group_committer, a_failed_sync_refuses_the_whole_batch_and_removes_the_bodies) {
  committer_fixture f;
  f.spool->fail();
  auto a = f.submit();
  auto b = f.submit();
  for (auto* r : {&a, &b}) {
    auto got = r->get();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->reply.code, 452);
    EXPECT_EQ(got->reply.enhanced, "4.3.1");
    EXPECT_EQ(got->rule, "storage_full");
  }
  EXPECT_EQ(f.s.queue->count(), 0u);
  EXPECT_TRUE(f.s.bodies->ids().empty()) << "no body is left without metadata";
}

TEST(group_committer, stop_commits_what_is_waiting) {
  committer_fixture f;
  auto r = f.submit();
  f.committer.stop();
  EXPECT_FALSE(r.get());
  EXPECT_EQ(f.s.queue->count(), 1u);
}

// With the wait made long, only the announced message's arrival (or its
// being dropped) can end it: the test would hang, not pass, without them.
constexpr submission::gathering wait_long{2.0, std::chrono::seconds(60), std::chrono::seconds(60)};

TEST(group_committer, a_batch_waits_for_a_message_still_arriving) {
  committer_fixture f(wait_long);
  auto& waits = submission::commit_wait_metric();
  const auto waits_before = waits.count();
  const auto waited_before = waits.sum();
  auto coming = f.committer.expect();  // a session has started receiving it
  auto first = f.submit();
  EXPECT_EQ(first.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout) << "waits for the second";
  auto second = f.submit(std::move(coming));
  EXPECT_FALSE(first.get());
  EXPECT_FALSE(second.get());
  EXPECT_EQ(f.spool->batches(), (std::vector<std::size_t>{2})) << "one sync for both";
  EXPECT_EQ(waits.count(), waits_before + 1) << "smtpsd_commit_wait_seconds counts the wait";
  // Most of the 50 ms above, less however late the committer thread began to wait.
  EXPECT_GT(waits.sum() - waited_before, 0.01) << "and how long it was";
}

// Of two messages on their way, the first to arrive leaves the batch waiting
// and the last one ends the wait: the committer, woken only by that last
// arrival, would otherwise sit out the 60 s limit and the test time out.
TEST(group_committer, a_batch_waits_for_every_message_still_arriving) {
  committer_fixture f(wait_long);
  auto coming = f.committer.expect();
  auto also_coming = f.committer.expect();
  auto first = f.submit();
  auto second = f.submit(std::move(coming));
  EXPECT_EQ(first.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout) << "one is still on its way";
  auto third = f.submit(std::move(also_coming));
  ASSERT_EQ(first.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_FALSE(first.get());
  EXPECT_FALSE(second.get());
  EXPECT_FALSE(third.get());
  EXPECT_EQ(f.spool->batches(), (std::vector<std::size_t>{3})) << "one sync for all three";
}

TEST(group_committer, a_dropped_message_ends_the_wait) {
  committer_fixture f(wait_long);
  auto coming = f.committer.expect();
  auto first = f.submit();
  coming = {};  // the client went away, or the message was refused
  ASSERT_EQ(first.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_FALSE(first.get());
  EXPECT_EQ(f.spool->batches(), (std::vector<std::size_t>{1}));
}

TEST(group_committer, without_announcements_a_batch_does_not_wait) {
  committer_fixture f(wait_long);
  auto r = f.submit();
  ASSERT_EQ(r.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_FALSE(r.get());
}

namespace {
// Grants room for `room` messages and records what comes back.
class recording_mail final : public submission::committed_mail {
 public:
  explicit recording_mail(std::size_t room) : room_(room) {}
  room reserve(std::size_t wanted) override {
    std::lock_guard l(mu_);
    asked.push_back(wanted);
    return {std::min(wanted, room_), base::from_unix_seconds(1'800'000'060)};
  }
  void taken(std::vector<submission::committed_message> l, std::size_t u, bool o) override {
    std::lock_guard g(mu_);
    leased = std::move(l);
    unused = u;
    others = o;
  }
  std::mutex mu_;
  std::size_t room_;
  std::vector<std::size_t> asked;
  std::vector<submission::committed_message> leased;
  std::size_t unused = 99;
  bool others = false;
};
}  // namespace

TEST(group_committer, a_batch_is_leased_and_handed_over_as_far_as_delivery_has_room) {
  committer_fixture f;
  recording_mail mail(1);
  f.committer.hand_to(&mail);
  f.spool->hold();
  auto first = f.submit();
  f.spool->wait_batches(1);  // the first batch is syncing (held); the next two go together
  auto a = f.submit();
  auto b = f.submit();
  f.spool->release();
  EXPECT_FALSE(first.get());
  EXPECT_FALSE(a.get());
  EXPECT_FALSE(b.get());
  f.committer.hand_to(nullptr);  // waits for a commit in progress
  std::lock_guard l(mail.mu_);
  EXPECT_EQ(mail.asked, (std::vector<std::size_t>{1, 2})) << "one reservation per batch";
  ASSERT_EQ(mail.leased.size(), 1u) << "as many as there was room for";
  const auto& handed = mail.leased[0];
  const auto stored = f.s.queue->get(handed.meta.id);
  ASSERT_TRUE(stored);
  EXPECT_NE(handed.meta.lease_token, 0);
  EXPECT_EQ(stored->lease_token, handed.meta.lease_token) << "leased in the transaction that queued it";
  EXPECT_EQ(mail.unused, 0u);
  EXPECT_TRUE(mail.others) << "the other one waits in the queue, to be claimed";
  std::size_t unleased = 0;
  for (const auto& m : f.s.queue->list(0)) unleased += m.lease_token == 0;
  EXPECT_EQ(unleased, 1u) << "of three queued, one has no lease";
}

TEST(group_committer, a_failed_commit_gives_the_room_back) {
  committer_fixture f;
  recording_mail mail(5);
  f.committer.hand_to(&mail);
  f.spool->fail();
  EXPECT_TRUE(f.submit().get());
  f.committer.hand_to(nullptr);
  std::lock_guard l(mail.mu_);
  EXPECT_TRUE(mail.leased.empty());
  EXPECT_EQ(mail.unused, 1u);
  EXPECT_FALSE(mail.others);
}

// Rows held back: a message answered once its body and replay data are
// synced, its row and send event committed with later ones.
namespace {
constexpr submission::holding hold_long{64, std::chrono::seconds(60), std::chrono::seconds(60)};

std::string id_of(int serial) {
  return base::make_queue_id(base::from_unix_seconds(1'800'000'000), static_cast<std::uint32_t>(serial));
}
}  // namespace

TEST(group_committer, an_answered_message_row_may_wait_and_settle_commits_it) {
  committer_fixture f(hold_long);
  recording_sink sink;
  EXPECT_FALSE(f.submit({}, &sink).get());
  EXPECT_FALSE(f.s.queue->get(id_of(1))) << "held: the replay data answers for it";
  EXPECT_FALSE(sink.has(id_of(1))) << "its event is published once it is stored";
  EXPECT_FALSE(f.submit({}, &sink).get());
  f.committer.settle();
  EXPECT_TRUE(f.s.queue->get(id_of(1)));
  EXPECT_TRUE(f.s.queue->get(id_of(2)));
  EXPECT_TRUE(sink.has(id_of(2)));
  ASSERT_EQ(sink.calls().size(), 1u) << "both in one commit";
}

TEST(group_committer, held_rows_are_committed_when_no_batch_follows) {
  committer_fixture f(submission::holding{64, std::chrono::seconds(60), std::chrono::milliseconds(1)});
  EXPECT_FALSE(f.submit().get());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!f.s.queue->get(id_of(1)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(f.s.queue->get(id_of(1)));
}

TEST(group_committer, held_rows_go_with_the_batch_that_reaches_the_limit) {
  committer_fixture f(submission::holding{3, std::chrono::seconds(60), std::chrono::seconds(60)});
  EXPECT_FALSE(f.submit().get());
  EXPECT_FALSE(f.submit().get());
  EXPECT_EQ(f.s.queue->list(0).size(), 0u) << "two held, under the limit of three";
  EXPECT_FALSE(f.submit().get());
  EXPECT_EQ(f.s.queue->list(0).size(), 3u) << "the third commits all three";
}

TEST(group_committer, a_batch_delivery_takes_now_commits_the_held_rows_with_it) {
  committer_fixture f(hold_long);
  EXPECT_FALSE(f.submit().get());
  recording_mail mail(1);
  f.committer.hand_to(&mail);
  EXPECT_FALSE(f.submit().get());
  f.committer.hand_to(nullptr);
  EXPECT_EQ(f.s.queue->list(0).size(), 2u);
  std::lock_guard l(mail.mu_);
  ASSERT_EQ(mail.leased.size(), 1u);
  EXPECT_EQ(mail.leased[0].meta.id, id_of(2)) << "the lease is the new message's, not the held one's";
  EXPECT_TRUE(mail.others) << "the held one waits in the queue, to be claimed";
}

TEST(group_committer, stop_commits_the_held_rows) {
  committer_fixture f(hold_long);
  EXPECT_FALSE(f.submit().get());
  f.committer.stop();
  EXPECT_TRUE(f.s.queue->get(id_of(1)));
  f.committer.settle();  // returns at once: nothing is held, and the thread is gone
}

TEST(group_committer, nothing_is_held_when_the_disk_is_nearly_full) {
  committer_fixture f(hold_long);
  f.spool->set_free(hold_long.least_free - 1);  // a commit that fails for want of room must fail before the reply
  EXPECT_FALSE(f.submit().get());
  EXPECT_TRUE(f.s.queue->get(id_of(1))) << "committed before the reply";
}
