#include "queue/attempt.hpp"

#include <map>

#include "base/log.hpp"
#include "net/coro.hpp"
#include "queue/schedule.hpp"

namespace smtpsd::queue {

namespace {

// The hops shared by the workers; `done` is cancelled when the last one ends.
struct fanout {
  fanout(const net::asio::any_io_executor& ex, std::vector<hop_attempt> h)
      : hops(std::move(h)), workers(std::min(hops.size(), max_parallel_hops)),
        done(ex, net::asio::steady_timer::time_point::max()) {}
  std::vector<hop_attempt> hops;
  std::size_t next = 0;  // the next hop a worker takes
  std::size_t workers;             // still running
  net::asio::steady_timer done;
};

net::awaitable<void> deliver_one(delivery::deliverer& d, hop_attempt& h, const base::clock& clock) {
  try {
    auto outs = co_await d.deliver(h.job);
    h.outcomes = std::move(outs);
  } catch (const std::exception& e) {
    static auto log = base::logger("queue");
    log->error("queue_id={} delivery to {} broke off: {}", h.job.queue_id, h.job.hop.key, e.what());
  }
  h.finished = clock.now();
}

net::awaitable<void> worker(delivery::deliverer* d, std::shared_ptr<fanout> f, const base::clock* clock) {
  while (f->next < f->hops.size()) co_await deliver_one(*d, f->hops[f->next++], *clock);
  if (--f->workers == 0) f->done.cancel();
}

}  // namespace

delivery::job common_job(const store::queued_message& m) {
  delivery::job j;
  j.queue_id = m.id;
  j.from = m.from;
  j.mail.size = m.size;
  j.mail.body = m.body;
  j.mail.smtputf8 = m.smtputf8;
  j.mail.ret = m.ret;
  j.mail.envid = m.envid;
  j.mail.tls = m.tls;
  return j;
}

std::vector<hop_attempt> plan_hops(const store::queued_message& m, base::time_point now, const delivery::deliverer& d,
                                   const delivery::job& common, const return_path_fn& return_path) {
  std::map<std::string, hop_attempt> by_hop;
  const bool verp = return_path && !m.from.empty();
  for (std::size_t i = 0; i < m.recipients.size(); ++i) {
    const auto& r = m.recipients[i];
    if (!store::pending(r.status) || (r.next_attempt && *r.next_attempt > now)) continue;
    auto hop = d.route(delivery::domain_of(r.address));
    auto& h = by_hop[verp ? hop.key + '\n' + r.address : hop.key];
    if (h.rcpts.empty()) {
      h.job = common;
      h.job.hop = std::move(hop);
      if (verp) h.job.from = return_path(m, r.address);
    }
    h.rcpts.push_back(i);
    h.job.rcpts.push_back({r.address, r.notify, r.orcpt});
  }
  std::vector<hop_attempt> hops;
  hops.reserve(by_hop.size());
  for (auto& [key, h] : by_hop) hops.push_back(std::move(h));
  return hops;
}

net::awaitable<void> run_hops(delivery::deliverer& d, std::vector<hop_attempt>& hops, const base::clock& clock) {
  if (hops.size() == 1) {
    co_await deliver_one(d, hops.front(), clock);
    co_return;
  }
  if (hops.empty()) co_return;
  // Spawned workers, not awaited one by one; each takes the next hop in turn.
  auto ex = co_await net::asio::this_coro::executor;
  auto f = std::make_shared<fanout>(ex, std::move(hops));
  const auto workers = f->workers;
  for (std::size_t w = 0; w < workers; ++w) net::spawn(ex, worker(&d, f, &clock), "delivery worker");
  if (f->workers > 0) {  // a worker may run to its end inside spawn (Asio dispatches)
    const auto ec = co_await net::wait(f->done);
    (void)ec;
  }
  hops = std::move(f->hops);
}

namespace {

// One recipient's new state after outcome `o` of attempt number r.attempts + 1.
delivery::outcome apply(store::queued_recipient& r, delivery::outcome o, base::time_point created,
                        base::time_point finished, std::chrono::seconds max_age, base::random_source& random) {
  ++r.attempts;
  r.next_attempt.reset();
  switch (o.kind) {
    case delivery::outcome_kind::delivered:
      r.status = store::rcpt_status::delivered;
      break;
    case delivery::outcome_kind::failed:
      r.status = store::rcpt_status::failed;
      break;
    case delivery::outcome_kind::deferred: {
      const double jitter = static_cast<double>(random.uniform(2001)) / 1000.0 - 1.0;
      r.next_attempt = next_attempt(r.attempts, created, finished, max_age, jitter);
      if (r.next_attempt) {
        r.status = store::rcpt_status::deferred;
      } else {
        r.status = store::rcpt_status::failed;
        o = delivery::expired(o);
      }
      break;
    }
  }
  r.last_response = o.response;
  return o;
}

// Whether a deferred recipient is due a delay DSN now; if so, it is noted as sent.
bool warn_delay(store::queued_recipient& r, base::time_point created, base::time_point now,
                std::chrono::seconds every) {
  if (every.count() == 0 || r.status != store::rcpt_status::deferred || !r.notify.wants(base::dsn_notify::delay))
    return false;
  if (now - r.delay_warned.value_or(created) < every) return false;
  r.delay_warned = now;
  return true;
}

}  // namespace

std::optional<finished_attempt> apply_outcomes(store::queued_message m, std::string headers,
                                               const std::vector<hop_attempt>& hops,
                                               std::chrono::seconds max_queue_age, base::random_source& random,
                                               std::chrono::seconds delay_warning) {
  finished_attempt f;
  for (const auto& h : hops) {
    if (h.outcomes.size() != h.rcpts.size()) continue;  // broke off: nothing to record, the lease runs out
    for (std::size_t k = 0; k < h.rcpts.size(); ++k) {
      if (!h.outcomes[k].attempted) continue;  // stopping: the next start tries it
      auto& r = m.recipients[h.rcpts[k]];
      auto o = apply(r, h.outcomes[k], m.created, h.finished, max_queue_age, random);
      f.items.push_back({h.rcpts[k], std::move(o), warn_delay(r, m.created, h.finished, delay_warning)});
    }
  }
  if (f.items.empty()) return std::nullopt;
  f.m = std::move(m);
  f.headers = std::move(headers);
  return f;
}

}  // namespace smtpsd::queue
