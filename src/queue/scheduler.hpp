#pragma once
// Claims due messages into a bounded window of deliveries in flight (the
// qmgr's active queue): as many as the window has room for, mail never tried
// and retries sharing each claim (queue_store::claim_due), each leased for
// `lease` and renewed every third of it while the delivery runs (so a long
// delivery is not taken over by another node). It looks again when woken
// (new mail left unleased, a delivery ended) or after a second. New mail
// mostly needs no claim: the committer leases it as it queues it, with room
// reserved in the window (reserve()), and hands it over (take()). One
// io_context thread, but for reserve() and release(); store calls go to the
// worker pool.
#include <atomic>
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
  // Any thread: room in the window for up to `wanted` messages leased
  // elsewhere (the committer); start them with take(), give what is left
  // back with release(). None before the stale leases are released at the
  // start, nor while a full window leaves mail due (claims share the room
  // then, new mail and retries half and half).
  std::size_t reserve(std::size_t wanted);
  void release(std::size_t n);
  // Messages leased with reserved room: start their deliveries.
  void take(std::vector<store::queued_message> leased);
  // The delivery of message `id` ended (recorded or not).
  void finished(const std::string& id);
  void stop();
  unsigned active() const { return active_; }

 private:
  struct claimed {
    std::size_t room = 0;
    std::size_t got = 0;
  };
  net::awaitable<claimed> claim();
  std::size_t grab(std::size_t wanted);
  void start(store::queued_message m);
  net::awaitable<void> renew();

  std::shared_ptr<store::queue_store> queue_;
  net::worker_pool& pool_;
  const base::clock& clock_;
  settings s_;
  start_fn start_;
  net::asio::steady_timer wake_;
  unsigned active_ = 0;  // deliveries running
  std::atomic<std::size_t> free_;  // window room neither running nor reserved
  std::atomic<bool> reservable_{false};  // reserve() may give room
  bool window_was_full_ = false;  // the last claim may have left messages due
  std::map<std::string, std::int64_t> held_;  // message id -> lease token
  base::time_point renewed_{};
  bool woken_ = false;
  bool stopping_ = false;
};

}  // namespace smtpsd::queue
