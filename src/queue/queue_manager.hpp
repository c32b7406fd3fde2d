#pragma once
// Turns the durable queue into delivered mail (Postfix's qmgr): on its own
// I/O thread, the scheduler claims due messages, and takes new mail straight
// from the committer, leased as it was queued; for each, the body is loaded
// (body.hpp), the recipients go to the deliverer grouped by next hop
// (attempt.hpp), the outcomes are recorded in batches (recorder.hpp) and
// followed by events, suppression and DSNs (bounces.hpp). Time and
// randomness are injected; every store call goes to the worker pool.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "base/metrics.hpp"
#include "base/random.hpp"
#include "delivery/deliverer.hpp"
#include "events/event.hpp"
#include "net/worker_pool.hpp"
#include "policy/reputation.hpp"
#include "queue/body.hpp"
#include "queue/bounces.hpp"
#include "queue/recorder.hpp"
#include "queue/scheduler.hpp"
#include "store/stores.hpp"
#include "submission/queue_writer.hpp"

namespace smtpsd::queue {

struct manager_settings {
  std::string hostname;
  std::chrono::seconds max_queue_age{432000};
  std::chrono::seconds delay_warning{0};  // delay DSNs at most this often per recipient; 0: none
  std::chrono::seconds lease{60};
  unsigned window = 100;  // messages in delivery at once
  std::chrono::seconds housekeeping{2};  // queue size gauge, idle connections reaped
  std::string return_path_domain;  // [bounces] domain: VERP envelope senders; "" = as submitted
  std::string return_path_key;     // inbound::verp_key of the installation
};

// The services the queue manager uses; they outlive it.
struct manager_services {
  net::worker_pool* pool = nullptr;
  events::sink* events = nullptr;
  const base::clock* clock = nullptr;
  base::random_source* random = nullptr;
  submission::queue_writer* writer = nullptr;
  policy::reputation_monitor* reputation = nullptr;  // counts ended deliveries and hard bounces
};

class queue_manager final : public submission::committed_mail {
 public:
  queue_manager(store::stores stores, std::unique_ptr<delivery::deliverer> d, manager_settings ms,
                manager_services svc);
  ~queue_manager();

  void start();
  // Stops claiming, lets deliveries in flight finish within `drain`, records
  // their outcomes, closes connections, joins the thread.
  void stop(std::chrono::seconds drain);
  // Look at the queue now instead of at the next tick.
  void wake();
  // submission::committed_mail: new mail from the committer (any thread).
  room reserve(std::size_t wanted) override;
  void taken(std::vector<submission::committed_message> leased, std::size_t unused, bool others) override;
  // A reloaded configuration's deliverer; deliveries in progress finish with
  // the old one.
  void replace_deliverer(std::unique_ptr<delivery::deliverer> d);

 private:
  net::awaitable<void> run();
  net::awaitable<void> drain();
  net::awaitable<void> housekeeping();
  net::awaitable<void> deliver(store::queued_message m);
  void post(std::function<void()> f);

  store::stores stores_;
  manager_settings settings_;
  manager_services svc_;
  std::unique_ptr<net::asio::io_context> io_;
  std::unique_ptr<delivery::deliverer> deliverer_;
  std::vector<std::unique_ptr<delivery::deliverer>> retired_;  // after reloads, until the process ends
  body_loader bodies_;
  // Handed over with the message by the committer, until its delivery starts (io thread only).
  std::unordered_map<std::string, loaded_body> preloaded_;
  bounces bounces_;
  recorder recorder_;
  scheduler scheduler_;
  std::atomic<std::size_t> queue_size_{0};
  base::gauge_callback size_gauge_;  // reads queue_size_ while running
  std::atomic<bool> stopped_{false};
  // Housekeeping sleeps on this timer, cancelled at the stop; run() waits for it to end, so no pool job of
  // it completes into a destroyed io_context.
  std::unique_ptr<net::asio::steady_timer> housekeeping_timer_;
  bool housekeeping_running_ = false;  // io thread only
  std::chrono::seconds drain_{0};
  std::thread thread_;
};

}  // namespace smtpsd::queue
