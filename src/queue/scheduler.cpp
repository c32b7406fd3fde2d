#include "queue/scheduler.hpp"

#include "queue/log.hpp"
#include "net/coro.hpp"

namespace smtpsd::queue {

scheduler::scheduler(net::asio::any_io_executor ex, std::shared_ptr<store::queue_store> queue, net::worker_pool& pool,
                     const base::clock& clock, settings s, start_fn start)
    : queue_(std::move(queue)), pool_(pool), clock_(clock), s_(s), start_(std::move(start)), wake_(ex) {}

void scheduler::wake() {
  woken_ = true;
  wake_.cancel();
}

void scheduler::finished(const std::string& id) {
  --active_;
  held_.erase(id);
  if (window_was_full_) wake();  // room again for what the full window left due
}

void scheduler::stop() {
  stopping_ = true;
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
    const std::size_t room = active_ < s_.window ? s_.window - active_ : 0;
    const auto claimed = co_await claim();
    co_await renew();
    // Fewer than there was room for: that was everything due, and what comes
    // due by a new message wakes this loop. A full window may have left some:
    // look again at once if there is room, else when a delivery ends.
    window_was_full_ = claimed == room;
    if (claimed > 0 && window_was_full_ && active_ < s_.window) continue;
    if (stopping_) break;
    if (woken_) continue;  // woken while claiming: look again now
    wake_.expires_after(std::chrono::seconds(1));
    const auto ec = co_await net::wait(wake_);
    (void)ec;
  }
}

// Claims what the window has room for and starts a delivery for each.
net::awaitable<std::size_t> scheduler::claim() {
  if (active_ >= s_.window) co_return 0;
  const auto now = clock_.now();
  const std::size_t want = s_.window - active_;
  auto take = [q = queue_, now, until = now + s_.lease, want] { return q->claim_due(now, until, want); };
  std::vector<store::queued_message> batch;
  try {
    batch = co_await pool_.run(std::move(take));
  } catch (const std::exception& e) {
    log()->error("cannot read the queue: {}", e.what());
    co_return 0;
  }
  for (auto& m : batch) {
    ++active_;
    held_[m.id] = m.lease_token;
    start_(std::move(m));
  }
  co_return batch.size();
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
