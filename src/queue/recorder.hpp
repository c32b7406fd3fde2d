#pragma once
// Records finished attempts in batches (the qmgr's bookkeeping): whatever
// finished while the last batch was being written, or in the 2 ms a batch
// waits for company (unless 64 wait already), goes into one store
// transaction; then the bounces follow. A transaction writes about a dozen
// pages whether it records one attempt or fifty, and it syncs: under
// `relay` a batch had 4.4 attempts before the wait and over 12 with it. A
// batch that cannot be written is logged: the leases run out and those
// attempts are repeated (at least once, never lost). One io_context thread
// only.
#include <chrono>
#include <memory>
#include <vector>

#include "net/worker_pool.hpp"
#include "queue/attempt.hpp"
#include "queue/bounces.hpp"
#include "store/queue_store.hpp"

namespace smtpsd::queue {

class recorder {
 public:
  recorder(net::asio::any_io_executor ex, std::shared_ptr<store::queue_store> queue, net::worker_pool& pool,
           bounces& after);

  // Takes an attempt; a flush starts unless one runs.
  void add(finished_attempt f);
  // Nothing waiting and nothing being written.
  bool idle() const { return waiting_.empty() && !flushing_; }
  // Writes everything waiting (returns at once when a flush already runs).
  net::awaitable<void> flush();

 private:
  net::asio::any_io_executor ex_;
  std::shared_ptr<store::queue_store> queue_;
  net::worker_pool& pool_;
  bounces& after_;
  std::vector<finished_attempt> waiting_;
  bool flushing_ = false;

  static constexpr auto gather = std::chrono::milliseconds(2);
  static constexpr std::size_t gather_enough = 64;
};

}  // namespace smtpsd::queue
