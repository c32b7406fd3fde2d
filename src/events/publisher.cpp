#include "events/publisher.hpp"

#include "events/log.hpp"
#include "base/metrics.hpp"
#include "base/thread.hpp"

namespace smtpsd::events {

namespace {
constexpr std::size_t max_waiting = 100000;  // events kept in memory while the store refuses them
}  // namespace

publisher::publisher(std::shared_ptr<store::event_store> store, const std::filesystem::path& journal_file, bool headers,
                     bool webhooks)
    : store_(std::move(store)),
      journal_(journal_file),
      headers_(headers),
      recent_(webhooks ? std::make_shared<recent_events>() : nullptr),
      thread_(base::start_thread("smtpsd-events", [this] { run(); })) {}

publisher::~publisher() { stop(); }

void publisher::on_stored(std::function<void()> f) {
  std::lock_guard l(notify_mu_);
  on_stored_ = std::move(f);
}

void publisher::notify() {
  std::lock_guard l(notify_mu_);
  if (on_stored_) on_stored_();
}

void publisher::emit(event e) {
  static auto& lost = base::metrics().get_counter("smtpsd_events_lost_total",
                                                  "Events dropped because the event store refused them too long");
  journal_.write(e);
  if (recent_) recent_->add(e);
  {
    std::lock_guard l(mu_);
    if (waiting_.size() >= max_waiting) {
      waiting_.pop_front();
      lost.inc();
    }
    waiting_.push_back(std::move(e));
  }
  cv_.notify_one();
}

void publisher::stored(std::span<const event> events) {
  journal_.write(events);
  if (recent_)
    for (auto& e : events) recent_->add(e);
  if (!events.empty()) notify();
}

void publisher::stop(std::chrono::seconds patience) {
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
    stopping_ = true;
    give_up_ = std::chrono::steady_clock::now() + patience;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void publisher::run() {
  for (;;) {
    std::vector<event> batch;
    {
      std::unique_lock l(mu_);
      cv_.wait(l, [&] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return;  // stopping, nothing left
      if (stopping_ && std::chrono::steady_clock::now() > give_up_) {
        log()->error("stopping with {} events that could not be stored", waiting_.size());
        return;
      }
      batch.assign(std::make_move_iterator(waiting_.begin()), std::make_move_iterator(waiting_.end()));
      waiting_.clear();
    }
    std::vector<store::stored_event> rows;
    rows.reserve(batch.size());
    for (auto& e : batch) rows.push_back(to_stored(e));
    try {
      store_->append(rows);
      if (!accepting_.exchange(true)) log()->info("the event store takes events again; accepting mail");
      notify();
    } catch (const std::exception& e) {
      if (accepting_.exchange(false))
        log()->error("cannot store {} events, refusing new mail until it works: {}", batch.size(), e.what());
      std::unique_lock l(mu_);
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) waiting_.push_front(std::move(*it));
      cv_.wait_for(l, stopping_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(1000));
    }
  }
}

}  // namespace smtpsd::events
