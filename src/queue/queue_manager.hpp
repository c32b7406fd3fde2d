#pragma once
// Turns the durable queue into delivered mail (Postfix's qmgr + bounce, as
// one module): claims due messages into a bounded active window, hands each
// domain's recipients to the delivery transport, records the outcomes in
// batches, schedules retries, and on failure sends one DSN to the sender and
// suppresses hard-bounced addresses. Runs on its own I/O thread; every store
// call goes to the worker pool.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "delivery/transport.hpp"
#include "events/event.hpp"
#include "net/worker_pool.hpp"
#include "store/stores.hpp"

namespace smtpsd::queue {

struct manager_settings {
  std::string hostname;
  std::chrono::seconds max_queue_age{432000};
  std::chrono::seconds lease{60};
  unsigned window = 100;  // messages in delivery at once
};

// Mail the queue manager itself sends (DSNs), handed to submission.
struct generated_message {
  std::string from;  // "" for a DSN
  std::string to;
  std::string content;  // header section, blank line, body; CRLF
};

class queue_manager {
 public:
  queue_manager(store::stores stores, net::worker_pool& pool, delivery::transport_settings ts, manager_settings ms,
                events::sink& events, const base::clock& clock, std::function<void(generated_message)> inject);
  ~queue_manager();

  void start();
  // Stops claiming, lets deliveries in flight finish within `drain`, records
  // their outcomes, closes connections, joins the thread.
  void stop(std::chrono::seconds drain);
  // New mail was queued: look now instead of at the next tick.
  void wake();
  // Routes, smarthost, resolvers and limits from a reloaded configuration;
  // deliveries in progress finish with the old ones.
  void update_transport(delivery::transport_settings ts);

 private:
  struct finished_attempt;
  // The recipients of one message that go to one next hop, and how their
  // transaction ended (`outs` stays empty when it broke off).
  struct hop_attempt {
    delivery::job job;
    std::string domain;              // one of the recipients' domains: it chooses the hop
    std::vector<std::size_t> rcpts;  // indexes into the message's recipients, as job.rcpts
    std::vector<delivery::outcome> outs;
    base::time_point after{};
  };
  // A message's hops when there are several: up to `max_parallel_hops`
  // workers take the next one in turn; `done` is cancelled when the last
  // worker has finished.
  static constexpr std::size_t max_parallel_hops = 8;
  struct fanout {
    fanout(net::asio::io_context& io, std::vector<hop_attempt> h)
        : hops(std::move(h)), workers(std::min(hops.size(), max_parallel_hops)),
          done(io, net::asio::steady_timer::time_point::max()) {}
    std::vector<hop_attempt> hops;
    std::size_t next = 0;  // the next hop a worker takes
    std::size_t workers;   // still running
    net::asio::steady_timer done;
  };
  net::awaitable<void> run();
  net::awaitable<void> deliver(store::queued_message m);
  net::awaitable<void> deliver_hops(delivery::transport* t, std::shared_ptr<fanout> shared);
  net::awaitable<void> flush_records();
  void after_record(finished_attempt& f, bool removed);
  void poke();

  store::stores stores_;
  net::worker_pool& pool_;
  manager_settings settings_;
  events::sink& events_;
  const base::clock& clock_;
  std::function<void(generated_message)> inject_;

  std::unique_ptr<net::asio::io_context> io_;
  std::atomic<std::size_t> queue_size_{0};
  std::unique_ptr<delivery::transport> transport_;
  std::vector<std::unique_ptr<delivery::transport>> retired_;  // after reloads, until the process ends
  std::unique_ptr<net::asio::steady_timer> wake_timer_;
  std::vector<std::unique_ptr<finished_attempt>> records_;
  bool flushing_ = false;
  unsigned active_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::chrono::steady_clock::time_point drain_deadline_{};
  std::thread thread_;
};

}  // namespace smtpsd::queue
