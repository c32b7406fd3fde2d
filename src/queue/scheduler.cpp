#include "queue/scheduler.hpp"

#include "queue/log.hpp"
#include "net/coro.hpp"

namespace smtpsd::queue {

scheduler::scheduler(net::asio::any_io_executor ex, std::shared_ptr<store::queue_store> queue, net::worker_pool& pool,
                     const base::clock& clock, settings s, start_fn start)
    : queue_(std::move(queue)), pool_(pool), clock_(clock), s_(s), start_(std::move(start)), wake_(ex), free_(s.window) {}

void scheduler::wake() {
  woken_ = true;
  wake_.cancel();
}

// Takes up to `wanted` of the window's free room.
std::size_t scheduler::grab(std::size_t wanted) {
  auto have = free_.load();
  for (;;) {
    const std::size_t n = std::min(wanted, have);
    if (n == 0) return 0;
    if (free_.compare_exchange_weak(have, have - n)) return n;
  }
}

std::size_t scheduler::reserve(std::size_t wanted) { return reservable_ ? grab(wanted) : 0; }

void scheduler::release(std::size_t n) { free_ += n; }

void scheduler::take(std::vector<store::queued_message> leased) {
  for (auto& m : leased) start(std::move(m));
}

void scheduler::start(store::queued_message m) {
  ++active_;
  held_[m.id] = m.lease_token;
  start_(std::move(m));
}

void scheduler::finished(const std::string& id) {
  --active_;
  held_.erase(id);
  release(1);
  if (window_was_full_) wake();  // room again for what the full window left due
}

void scheduler::stop() {
  stopping_ = true;
  reservable_ = false;
  wake();
}

net::awaitable<void> scheduler::run() {
  try {
    auto release = [q = queue_] { q->release_leases(); };
    co_await pool_.run(std::move(release));
  } catch (const std::exception& e) {
    log()->error("cannot release delivery leases: {}", e.what());
  }
  while (!stopping_) {
    woken_ = false;
    const auto c = co_await claim();
    co_await renew();
    // Fewer than there was room for: that was everything due, and what comes
    // due by a new message wakes this loop. A full window may have left some:
    // look again at once if there is room, else when a delivery ends. Until
    // a claim gets everything due again, new mail waits in the queue with
    // the rest (no reserve()), so retries keep their share of the window.
    window_was_full_ = c.got == c.room;
    reservable_ = !window_was_full_ && !stopping_;
    if (c.got > 0 && window_was_full_ && free_ > 0) continue;
    if (stopping_) break;
    if (woken_) continue;  // woken while claiming: look again now
    wake_.expires_after(std::chrono::seconds(1));
    const auto ec = co_await net::wait(wake_);
    (void)ec;
  }
}

// Claims what the window has room for and starts a delivery for each.
net::awaitable<scheduler::claimed> scheduler::claim() {
  claimed c;
  c.room = grab(s_.window);
  if (c.room == 0) co_return c;
  const auto now = clock_.now();
  auto take = [q = queue_, now, until = now + s_.lease, want = c.room] { return q->claim_due(now, until, want); };
  std::vector<store::queued_message> batch;
  try {
    batch = co_await pool_.run(std::move(take));
  } catch (const std::exception& e) {
    log()->error("cannot read the queue: {}", e.what());
  }
  release(c.room - batch.size());
  c.got = batch.size();
  for (auto& m : batch) start(std::move(m));
  co_return c;
}

// Every third of the lease, extends the leases of the deliveries running.
net::awaitable<void> scheduler::renew() {
  const auto now = clock_.now();
  if (held_.empty() || now - renewed_ < s_.lease / 3) co_return;
  renewed_ = now;
  std::vector<store::lease_ref> refs;
  refs.reserve(held_.size());
  for (auto& [id, token] : held_) refs.push_back({id, token});
  auto extend = [q = queue_, &refs, until = now + s_.lease] { return q->renew_leases(refs, until); };
  try {
    const auto still = co_await pool_.run(std::move(extend));
    for (std::size_t i = 0; i < still.size(); ++i)
      if (!still[i]) log()->warn("queue_id={} delivery lease lost: another node may deliver it", refs[i].id);
  } catch (const std::exception& e) {
    log()->error("cannot renew {} delivery leases: {}", refs.size(), e.what());
  }
}

}  // namespace smtpsd::queue
