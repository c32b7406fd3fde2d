#pragma once
// Claims due messages into a bounded window of deliveries in flight (the
// qmgr's active queue): as many as the window has room for, mail never tried
// and retries sharing each claim (queue_store::claim_due), each leased for
// `lease` and renewed every third of it while the delivery runs (so a long
// delivery is not taken over by another node). It looks again when woken
// (new mail, a delivery ended) or after a second. One io_context thread
// only; store calls go to the worker pool.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/clock.hpp"
#include "net/worker_pool.hpp"
#include "store/queue_store.hpp"

namespace smtpsd::queue {

class scheduler {
 public:
  struct settings {
    std::chrono::seconds lease{60};
    unsigned window = 100;  // deliveries in flight at once
  };
  // Called for each claimed message; the delivery it starts calls finished().
  using start_fn = std::function<void(store::queued_message)>;

  scheduler(net::asio::any_io_executor ex, std::shared_ptr<store::queue_store> queue, net::worker_pool& pool,
            const base::clock& clock, settings s, start_fn start);

  // Releases this node's stale leases, then claims until stop().
  net::awaitable<void> run();
  void wake();
  // The delivery of message `id` ended (recorded or not).
  void finished(const std::string& id);
  void stop();
  unsigned active() const { return active_; }

 private:
  net::awaitable<std::size_t> claim();
  net::awaitable<void> renew();

  std::shared_ptr<store::queue_store> queue_;
  net::worker_pool& pool_;
  const base::clock& clock_;
  settings s_;
  start_fn start_;
  net::asio::steady_timer wake_;
  unsigned active_ = 0;
  bool window_was_full_ = false;  // the last claim may have left messages due
  std::map<std::string, std::int64_t> held_;  // message id -> lease token
  base::time_point renewed_{};
  bool woken_ = false;
  bool stopping_ = false;
};

}  // namespace smtpsd::queue
