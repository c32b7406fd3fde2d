#include "queue/recorder.hpp"

#include "base/log.hpp"
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
    auto batch = std::move(waiting_);
    waiting_.clear();
    std::vector<store::queued_message> ms;
    ms.reserve(batch.size());
    for (auto& f : batch) ms.push_back(f.m);
    try {
      auto write = [q = queue_, &ms] { return q->record_attempts(ms); };
      auto removed = co_await pool_.run(std::move(write));
      co_await after_.after_recorded(batch, removed);
    } catch (const std::exception& e) {
      static auto log = base::logger("queue");
      log->error("cannot record {} delivery attempts: {}", batch.size(), e.what());
    }
  }
  flushing_ = false;
}

}  // namespace smtpsd::queue
