#include "queue/recorder.hpp"

#include "queue/log.hpp"
#include "net/coro.hpp"

namespace smtpsd::queue {

recorder::recorder(net::asio::any_io_executor ex, std::shared_ptr<store::queue_store> queue, net::worker_pool& pool,
                   bounces& after)
    : ex_(std::move(ex)), queue_(std::move(queue)), pool_(pool), after_(after) {}

void recorder::add(finished_attempt f) {
  waiting_.push_back(std::move(f));
  if (!flushing_) net::spawn(ex_, flush(), "delivery recorder");
}

net::awaitable<void> recorder::flush() {
  if (flushing_) co_return;
  flushing_ = true;
  while (!waiting_.empty()) {
    if (waiting_.size() < gather_enough) co_await net::sleep_for(gather);
    auto batch = std::move(waiting_);
    waiting_.clear();
    std::vector<store::queued_message> ms;
    ms.reserve(batch.size());
    for (auto& f : batch) ms.push_back(f.m);
    auto events = after_.events_for(batch);
    std::vector<std::vector<store::stored_event>> stored(events.size());
    for (std::size_t i = 0; i < events.size(); ++i)
      for (auto& e : events[i]) stored[i].push_back(events::to_stored(e));
    std::vector<store::recorded> results;
    try {
      auto write = [q = queue_, &ms, &stored] { return q->record_attempts(ms, stored); };
      results = co_await pool_.run(std::move(write));
    } catch (const std::exception& e) {
      log()->error("cannot record {} delivery attempts: {}", batch.size(), e.what());
      continue;
    }
    // A message whose lease another node took over is that node's now: its
    // outcome, events, DSNs and suppressions are not this delivery's to report.
    std::vector<finished_attempt> kept;
    std::vector<std::vector<events::event>> kept_events;
    std::vector<bool> removed;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (results[i] == store::recorded::lost) {
        log()->warn("queue_id={} lease lost to another delivery: this attempt's outcome is not recorded", batch[i].m.id);
        continue;
      }
      kept.push_back(std::move(batch[i]));
      kept_events.push_back(std::move(events[i]));
      removed.push_back(results[i] == store::recorded::finished);
    }
    batch = std::move(kept);
    events = std::move(kept_events);
    try {
      co_await after_.after_recorded(batch, removed, events);
    } catch (const std::exception& e) {
      log()->error("after recording {} delivery attempts: {}", batch.size(), e.what());
    }
  }
  flushing_ = false;
}

}  // namespace smtpsd::queue
