#include "queue/recorder.hpp"

#include "base/log.hpp"
#include "net/coro.hpp"

namespace smtpsd::queue {

namespace {
std::shared_ptr<spdlog::logger> log() {
  static auto l = base::logger("queue");
  return l;
}
}  // namespace

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
    auto batch = std::move(waiting_);
    waiting_.clear();
    std::vector<store::queued_message> ms;
    ms.reserve(batch.size());
    for (auto& f : batch) ms.push_back(f.m);
    auto events = after_.events_for(batch);
    std::vector<store::stored_event> stored;
    for (auto& per : events)
      for (auto& e : per) stored.push_back(events::to_stored(e));
    std::vector<bool> removed;
    try {
      auto write = [q = queue_, &ms, &stored] { return q->record_attempts(ms, stored); };
      removed = co_await pool_.run(std::move(write));
    } catch (const std::exception& e) {
      log()->error("cannot record {} delivery attempts: {}", batch.size(), e.what());
      continue;
    }
    try {
      co_await after_.after_recorded(batch, removed, events);
    } catch (const std::exception& e) {
      log()->error("after recording {} delivery attempts: {}", batch.size(), e.what());
    }
  }
  flushing_ = false;
}

}  // namespace smtpsd::queue
