// The publisher: journal, batched appends, and what a full event store does.
#include "events/publisher.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "store/memory/memory_stores.hpp"

using namespace smtpsd;
using namespace std::chrono_literals;

namespace {

// An event store that refuses appends while `full` is set.
class fillable_store final : public store::event_store {
 public:
  explicit fillable_store(std::shared_ptr<store::event_store> inner) : inner_(std::move(inner)) {}
  std::atomic<bool> full{false};
  std::vector<std::int64_t> append(std::span<const store::stored_event> e) override {
    if (full) throw store::storage_full("database or disk is full");
    return inner_->append(e);
  }
  std::vector<store::stored_event> read_after(std::int64_t s, std::size_t n) override { return inner_->read_after(s, n); }
  std::int64_t last_seq() override { return inner_->last_seq(); }
  std::vector<store::stored_event> query(const store::event_query& q) override { return inner_->query(q); }
  std::optional<std::int64_t> cursor(std::string_view c) override { return inner_->cursor(c); }
  void set_cursor(std::string_view c, std::int64_t s) override { inner_->set_cursor(c, s); }
  void add_dead_letter(std::string_view c, std::int64_t s, std::string_view r, store::time_point w) override {
    inner_->add_dead_letter(c, s, r, w);
  }
  std::vector<store::dead_letter> dead_letters(std::string_view c) override { return inner_->dead_letters(c); }
  std::size_t request_redelivery(std::string_view c, std::string_view id) override {
    return inner_->request_redelivery(c, id);
  }
  void remove_dead_letter(std::string_view c, std::int64_t s) override { inner_->remove_dead_letter(c, s); }
  std::size_t prune(store::time_point b) override { return inner_->prune(b); }
  void prune_statistics(store::time_point b) override { inner_->prune_statistics(b); }
  bool hold_role(std::string_view r, store::time_point n, store::time_point u) override { return inner_->hold_role(r, n, u); }
  std::vector<store::stat_bucket> statistics(store::time_point s, std::string_view a) override {
    return inner_->statistics(s, a);
  }

 private:
  std::shared_ptr<store::event_store> inner_;
};

events::event reject(const std::string& id) {
  events::event e;
  e.id = id;
  e.type = "reject";
  e.account = "acme";
  return e;
}

template <class F>
bool eventually(F f) {
  for (int i = 0; i < 1000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

}  // namespace

TEST(publisher, a_full_event_store_stops_new_mail_until_it_takes_events_again) {
  char tmpl[] = "/tmp/smtpsd-publisher-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  auto s = store::memory::open();
  auto log = std::make_shared<fillable_store>(s.events);
  {
    events::publisher p(log, dir / "events.jsonl", false, true);
    std::atomic<int> told{0};
    p.on_stored([&] { ++told; });
    p.emit(reject("one"));
    ASSERT_TRUE(eventually([&] { return log->last_seq() == 1; }));
    EXPECT_TRUE(eventually([&] { return told > 0; })) << "the webhooks hear of it";
    EXPECT_TRUE(p.accepting());

    log->full = true;
    p.emit(reject("two"));
    EXPECT_TRUE(eventually([&] { return !p.accepting(); })) << "no new mail while events cannot be stored";
    EXPECT_EQ(log->last_seq(), 1);

    log->full = false;
    EXPECT_TRUE(eventually([&] { return p.accepting() && log->last_seq() == 2; })) << "kept, stored once it works";
  }
  std::ifstream in(dir / "events.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, 2) << "the journal has both at once";
  std::filesystem::remove_all(dir);
}

TEST(publisher, keeps_recent_events_only_for_webhooks) {
  char tmpl[] = "/tmp/smtpsd-publisher-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  auto s = store::memory::open();
  {
    events::publisher without(s.events, dir / "a.jsonl", false, false);
    EXPECT_EQ(without.recent(), nullptr) << "nothing would read them";
    without.emit(reject("one"));
    events::publisher with(s.events, dir / "b.jsonl", false, true);
    auto e = reject("two");
    with.stored(std::span<const events::event>(&e, 1));
    ASSERT_NE(with.recent(), nullptr);
    EXPECT_NE(with.recent()->find("two"), nullptr);
  }
  std::filesystem::remove_all(dir);
}
