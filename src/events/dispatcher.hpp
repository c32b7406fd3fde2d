#pragma once
// Runs the webhooks on their own thread, so events never slow a session:
// the sessions and the queue write the durable log, and this reads it. Also
// prunes the log of events older than the retention that every webhook has
// passed. Metrics: smtpsd_webhook_requests_total{result},
// smtpsd_webhook_backlog, smtpsd_webhook_dead_letters_total and the
// smtpsd_webhook_delivery_seconds histogram.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "base/metrics.hpp"
#include "events/webhook.hpp"

namespace smtpsd::events {

class dispatcher {
 public:
  dispatcher(std::shared_ptr<store::event_store> store, std::shared_ptr<const recent_events> recent,
             net::worker_pool& pool, std::vector<webhook_settings> hooks, std::string hostname,
             const base::clock& clock, std::chrono::hours retention);
  ~dispatcher();

  void start();
  // New events are in the store (any thread).
  void wake();
  // Saves every cursor and stops the thread.
  void stop();

 private:
  net::awaitable<void> prune_loop();
  net::awaitable<void> run_hook(webhook& h);

  std::shared_ptr<store::event_store> store_;
  net::worker_pool& pool_;
  const base::clock& clock_;
  std::chrono::hours retention_;
  net::asio::io_context io_{1};
  log_reader log_;
  std::vector<std::unique_ptr<webhook>> hooks_;
  base::gauge_callback backlog_gauge_;  // reads hooks_
  std::atomic<bool> stopping_{false};
  std::atomic<bool> wake_pending_{false};
  unsigned running_ = 0;  // webhooks still running (io thread only)
  std::thread thread_;
};

// Every webhook metric at zero, so alerts work before the first event.
void register_webhook_metrics();

}  // namespace smtpsd::events
