#include "queue/queue_manager.hpp"

#include <boost/asio/post.hpp>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "queue/log.hpp"
#include "base/metrics.hpp"
#include "inbound/verp.hpp"
#include "net/coro.hpp"
#include "queue/attempt.hpp"
#include "queue/tls_reports.hpp"
#include "base/thread.hpp"

namespace smtpsd::queue {

namespace {

// Deliberately not freed (see ~queue_manager); the leak checker is told so,
// or every sanitizer run that stops during a delivery would fail.
void left_behind([[maybe_unused]] const void* p) {
#if defined(__SANITIZE_ADDRESS__)
  if (p) __lsan_ignore_object(p);
#endif
}

}  // namespace

queue_manager::queue_manager(store::stores stores, std::unique_ptr<delivery::deliverer> d, manager_settings ms,
                             manager_services svc)
    : stores_(std::move(stores)),
      settings_(std::move(ms)),
      svc_(svc),
      io_(std::make_unique<net::asio::io_context>(1)),
      deliverer_(std::move(d)),
      bodies_(stores_.bodies, *svc.pool),
      bounces_(stores_, *svc.pool, *svc.events, *svc.writer, *svc.clock, *svc.random, settings_.hostname,
               settings_.max_queue_age),
      recorder_(io_->get_executor(), stores_.queue, *svc.pool, bounces_),
      scheduler_(io_->get_executor(), stores_.queue, *svc.pool, *svc.clock,
                 scheduler::settings{settings_.lease, settings_.window}, [this](store::queued_message m) {
                   net::spawn(io_->get_executor(), deliver(std::move(m)), "delivery");
                 }),
      housekeeping_timer_(std::make_unique<net::asio::steady_timer>(*io_)) {
  bounces_.use_reputation(svc.reputation);
}

queue_manager::~queue_manager() {
  stop(std::chrono::seconds(0));
  if (scheduler_.active() > 0) {
    // Deliveries still hold the deliverer; the process is ending, and the
    // next start repeats them. Leave their state behind rather than free it
    // under them.
    left_behind(deliverer_.release());
    for (auto& d : retired_) left_behind(d.release());
    left_behind(io_.release());  // with the suspended deliveries' frames, reachable from it
  }
}

void queue_manager::start() {
  size_gauge_ = queue_size_gauge([this] { return static_cast<double>(queue_size_.load()); });
  svc_.writer->on_committed(this);
  net::spawn(io_->get_executor(), run(), "queue manager");
  net::spawn(io_->get_executor(), housekeeping(), "queue housekeeping");
  thread_ = base::start_thread("smtpsd-queue", [this] { io_->run(); });
}

void queue_manager::stop(std::chrono::seconds drain) {
  if (stopped_.exchange(true)) return;
  if (!thread_.joinable()) return;
  svc_.writer->on_committed(nullptr);  // no hand-over after this, nor one in progress
  drain_ = drain;
  post([this] { scheduler_.stop(); });
  thread_.join();
  size_gauge_.freeze();  // the last size stays
}

void queue_manager::post(std::function<void()> f) { net::asio::post(*io_, std::move(f)); }

void queue_manager::wake() {
  post([this] { scheduler_.wake(); });
}

submission::committed_mail::room queue_manager::reserve(std::size_t wanted) {
  room r;
  r.count = scheduler_.reserve(wanted);
  if (r.count > 0) r.lease_until = svc_.clock->now() + settings_.lease;
  return r;
}

void queue_manager::taken(std::vector<submission::committed_message> leased, std::size_t unused, bool others) {
  scheduler_.release(unused);
  if (leased.empty() && !others) return;
  auto batch = std::make_shared<std::vector<submission::committed_message>>(std::move(leased));
  post([this, batch, others] {
    std::vector<store::queued_message> metas;
    metas.reserve(batch->size());
    for (auto& c : *batch) {
      if (c.content) preloaded_.emplace(c.meta.id, body_loader::in_memory(std::move(c.headers), std::move(c.content)));
      metas.push_back(std::move(c.meta));
    }
    scheduler_.take(std::move(metas));
    if (others) scheduler_.wake();  // left in the queue: claim them now
  });
}

void queue_manager::replace_deliverer(std::unique_ptr<delivery::deliverer> d) {
  auto next = std::make_shared<std::unique_ptr<delivery::deliverer>>(std::move(d));
  post([this, next] {
    // Deliveries in flight hold the old deliverer; it goes when they are done.
    retired_.push_back(std::move(deliverer_));
    deliverer_ = std::move(*next);
  });
}

net::awaitable<void> queue_manager::run() {
  co_await scheduler_.run();
  co_await drain();
  housekeeping_timer_->cancel();
  while (housekeeping_running_) co_await net::sleep_for(std::chrono::milliseconds(5));
  io_->stop();
}

// Deliveries waiting for a connection give up, those in a transaction finish
// within the drain time; everything finished is recorded; connections close.
net::awaitable<void> queue_manager::drain() {
  deliverer_->shutdown();
  for (auto& d : retired_) d->shutdown();
  // A deadline to compare with, not a timer whose handler could outlive this frame.
  const auto until = std::chrono::steady_clock::now() + drain_;
  while (scheduler_.active() > 0 && std::chrono::steady_clock::now() < until)
    co_await net::sleep_for(std::chrono::milliseconds(20));
  while (!recorder_.idle()) {
    co_await recorder_.flush();
    co_await net::sleep_for(std::chrono::milliseconds(5));
  }
  if (scheduler_.active() > 0)
    log()->warn("stopping with {} deliveries unfinished; they are repeated at the next start", scheduler_.active());
  deliverer_->reap(true);
  for (auto& d : retired_) d->reap(true);
}

// Every few seconds: the queue size for /metrics, idle connections reaped.
net::awaitable<void> queue_manager::housekeeping() {
  housekeeping_running_ = true;
  while (!stopped_) {
    try {
      auto count = [q = stores_.queue, r = svc_.reputation] {
        if (r) r->flush();  // ended deliveries counted since the last tick
        return q->count();
      };
      queue_size_ = co_await svc_.pool->run(std::move(count));
    } catch (const std::exception&) {
    }
    deliverer_->reap(false);
    for (auto& d : retired_) d->reap(true);
    auto reports = co_await deliverer_->finished_tls_reports();
    const tls_report_context out{settings_.hostname, svc_.pool, svc_.writer, svc_.random, svc_.clock};
    if (!reports.empty()) co_await send_tls_reports(reports, out);
    if (stopped_) break;
    housekeeping_timer_->expires_after(settings_.housekeeping);
    [[maybe_unused]] const auto woken = co_await net::wait(*housekeeping_timer_);  // or cancelled: stopping
  }
  housekeeping_running_ = false;
}

net::awaitable<void> queue_manager::deliver(store::queued_message m) {
  auto& attempt_seconds = attempt_seconds_metric();
  auto& corrupt = corrupt_entries_metric();
  struct done_guard {
    scheduler& s;
    std::string id;
    ~done_guard() { s.finished(id); }
  } guard{scheduler_, m.id};
  const auto started = svc_.clock->now();

  loaded_body body;
  if (auto it = preloaded_.find(m.id); it != preloaded_.end()) {
    body = std::move(it->second);  // handed over by the committer: nothing to read back
    preloaded_.erase(it);
  } else {
    body = co_await bodies_.load(m);
  }
  if (body.st == loaded_body::state::unavailable) {
    log()->warn("queue_id={} cannot read the message now: {}", m.id, body.problem);
    co_return;  // the lease runs out and it is tried again
  }
  if (body.st == loaded_body::state::corrupt) {
    corrupt.inc();
    log()->error("queue_id={} corrupt queue entry moved aside: {}", m.id, body.problem);
    co_await bodies_.quarantine(*stores_.queue, m.id);
    co_return;
  }
  auto common = common_job(m);
  common.open = std::move(body.open);
  return_path_fn verp;
  if (!settings_.return_path_domain.empty())
    verp = [this](const store::queued_message& msg, const std::string& rcpt) {
      return inbound::make_return_path(settings_.return_path_key, settings_.return_path_domain, msg.id, msg.account_id,
                                       rcpt);
    };
  auto hops = plan_hops(m, svc_.clock->now(), *deliverer_, common, verp);
  auto* d = deliverer_.get();  // a replaced deliverer is retired, not freed
  co_await run_hops(*d, hops, *svc_.clock);
  attempt_seconds.observe(std::chrono::duration<double>(svc_.clock->now() - started).count());
  auto f = apply_outcomes(std::move(m), std::move(body.headers), hops, settings_.max_queue_age, *svc_.random,
                          settings_.delay_warning);
  if (f) recorder_.add(std::move(*f));
}

}  // namespace smtpsd::queue
