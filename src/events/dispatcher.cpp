#include "events/dispatcher.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "base/log.hpp"
#include "base/metrics.hpp"
#include "net/coro.hpp"
#include "base/thread.hpp"

namespace smtpsd::events {

void register_webhook_metrics() {
  for (auto* r : {"success", "client_error", "server_error", "network_error"})
    base::metrics().get_counter("smtpsd_webhook_requests_total", "Webhook requests, by result", {{"result", r}});
  base::metrics().get_counter("smtpsd_webhook_dead_letters_total", "Events a webhook gave up on, kept as dead letters");
  base::metrics().get_histogram("smtpsd_webhook_delivery_seconds", "From an event to its webhook's 2xx answer",
                                base::latency_buckets());
}

dispatcher::dispatcher(std::shared_ptr<store::event_store> store, std::shared_ptr<const recent_events> recent,
                       net::worker_pool& pool, std::vector<webhook_settings> hooks, std::string hostname,
                       const base::clock& clock, std::chrono::hours retention)
    : store_(std::move(store)), pool_(pool), clock_(clock), retention_(retention), log_(store_) {
  for (auto& s : hooks)
    hooks_.push_back(std::make_unique<webhook>(io_.get_executor(), std::move(s), log_, store_, recent, pool_, clock_, hostname));
  register_webhook_metrics();
  backlog_gauge_ = base::gauge_callback(base::metrics(), "smtpsd_webhook_backlog", "Events not yet taken by a webhook", [this] {
    double n = 0;
    for (auto& h : hooks_) n += static_cast<double>(h->backlog());
    return n;
  });
}

dispatcher::~dispatcher() {
  stop();
}

void dispatcher::start() {
  for (auto& h : hooks_) net::spawn(io_.get_executor(), run_hook(*h), "webhook " + h->settings().name);
  net::spawn(io_.get_executor(), prune_loop(), "event log pruning");
  thread_ = base::start_thread("smtpsd-webhooks", [this] {
    auto guard = net::asio::make_work_guard(io_);
    io_.run();
  });
}

// Called for every message stored: a wake already on its way covers the
// events stored since, and with no webhooks there is nobody to wake. (Each
// post woke the dispatcher's thread: two context switches per message.)
void dispatcher::wake() {
  if (hooks_.empty() || wake_pending_.exchange(true)) return;
  net::asio::post(io_, [this] {
    wake_pending_ = false;  // before the hooks look: what is stored after this wakes them again
    for (auto& h : hooks_) h->wake();
  });
}

void dispatcher::stop() {
  if (stopping_.exchange(true) || !thread_.joinable()) return;
  // Each webhook saves its cursor and ends; requests in flight are sent
  // again at the next start. The last one to end stops the thread.
  net::asio::post(io_, [this] {
    if (running_ == 0) io_.stop();
    for (auto& h : hooks_) h->stop();
  });
  thread_.join();
  backlog_gauge_.freeze();  // what is left behind stays visible
}

net::awaitable<void> dispatcher::run_hook(webhook& h) {
  ++running_;
  try {
    co_await h.run();
  } catch (const std::exception& e) {
    base::logger("events")->error("webhook {} stopped: {}", h.settings().name, e.what());
  }
  if (--running_ == 0 && stopping_) io_.stop();
}

net::awaitable<void> dispatcher::prune_loop() {
  static auto log = base::logger("events");
  while (!stopping_) {
    auto prune = [store = store_, before = clock_.now() - retention_, stats_before = clock_.now() - std::chrono::days(15)] {
      store->prune_statistics(stats_before);  // the API's statistics cover 14 days
      return store->prune(before);
    };
    try {
      auto n = co_await pool_.run(std::move(prune));
      if (n) log->info("pruned {} events older than {} hours", n, retention_.count());
    } catch (const std::exception& e) {
      log->warn("cannot prune the event log: {}", e.what());
    }
    co_await net::sleep_for(std::chrono::minutes(10));
  }
}

}  // namespace smtpsd::events
