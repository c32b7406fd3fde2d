#include "queue/queue_manager.hpp"

#include <boost/asio/post.hpp>

#include <fmt/format.h>

#include <map>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "base/ids.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
#include "base/random.hpp"
#include "base/strings.hpp"
#include "message/dsn.hpp"
#include "queue/schedule.hpp"
#include "smtp/params.hpp"

namespace smtpsd::queue {

namespace {

std::shared_ptr<spdlog::logger> log() {
  static auto l = base::logger("queue");
  return l;
}

constexpr std::uint64_t small_message = 1024 * 1024;  // read at once; larger ones stream
constexpr std::size_t chunk_size = 256 * 1024;

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? std::string{} : base::to_lower(address.substr(at + 1));
}

// A small message, already in memory.
class memory_source final : public delivery::content_source {
 public:
  explicit memory_source(std::shared_ptr<const std::string> s) : s_(std::move(s)) {}
  net::awaitable<std::string> next() override {
    if (done_) co_return std::string{};
    done_ = true;
    co_return *s_;
  }

 private:
  std::shared_ptr<const std::string> s_;
  bool done_ = false;
};

// A large message, read from the spool on the worker pool a chunk at a time.
class spool_source final : public delivery::content_source {
 public:
  spool_source(std::shared_ptr<store::spool> spool, net::worker_pool& pool, std::string id)
      : spool_(std::move(spool)), pool_(pool), id_(std::move(id)) {}
  net::awaitable<std::string> next() override {
    if (!reader_) {
      reader_ = co_await pool_.run([this] {
        auto r = spool_->open(id_);
        if (!r) throw store::store_error("the message body is gone", false);
        return std::shared_ptr<store::spool_reader>(std::move(r));
      });
      co_return reader_->header_section() + "\r\n";
    }
    auto read = [r = reader_] {  // named: see worker_pool::run
      std::string buf(chunk_size, '\0');
      buf.resize(r->read_body(buf.data(), buf.size()));
      return buf;
    };
    co_return co_await pool_.run(std::move(read));
  }

 private:
  std::shared_ptr<store::spool> spool_;
  net::worker_pool& pool_;
  std::string id_;
  std::shared_ptr<store::spool_reader> reader_;
};

std::string notify_text(unsigned n) { return n ? smtp::notify_to_string(n) : std::string{}; }

std::string ret_text(int r) {
  switch (static_cast<smtp::dsn_ret>(r)) {
    case smtp::dsn_ret::full: return "FULL";
    case smtp::dsn_ret::hdrs: return "HDRS";
    default: return {};
  }
}

}  // namespace

struct queue_manager::finished_attempt {
  store::queued_message m;
  std::string headers;
  struct item {
    std::size_t index;
    delivery::outcome o;
    store::rcpt_status status;
  };
  std::vector<item> items;
};

namespace {

// Deliberately not freed (see ~queue_manager); the leak checker is told so,
// or every sanitizer run that stops during a delivery would fail.
void left_behind([[maybe_unused]] const void* p) {
#if defined(__SANITIZE_ADDRESS__)
  if (p) __lsan_ignore_object(p);
#endif
}

}  // namespace

queue_manager::queue_manager(store::stores stores, net::worker_pool& pool, delivery::transport_settings ts,
                             manager_settings ms, events::sink& events, const base::clock& clock,
                             std::function<void(generated_message)> inject)
    : stores_(std::move(stores)),
      pool_(pool),
      settings_(std::move(ms)),
      events_(events),
      clock_(clock),
      inject_(std::move(inject)),
      io_(std::make_unique<net::asio::io_context>(1)),
      transport_(std::make_unique<delivery::transport>(pool, std::move(ts))),
      wake_timer_(std::make_unique<net::asio::steady_timer>(*io_)) {}

queue_manager::~queue_manager() {
  stop(std::chrono::seconds(0));
  if (active_ > 0) {
    // Deliveries still hold the transport; the process is ending, and the
    // next start repeats them. Leave their state behind rather than free it
    // under them.
    left_behind(transport_.release());
    for (auto& t : retired_) left_behind(t.release());
    left_behind(wake_timer_.release());
    left_behind(io_.release());  // with the suspended deliveries' frames, reachable from it
  }
}

void queue_manager::start() {
  base::metrics().set_gauge_callback("smtpsd_queue_messages", "Messages in the queue",
                                     [this] { return static_cast<double>(queue_size_.load()); });
  net::asio::co_spawn(*io_, run(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      log()->critical("queue manager stopped: {}", x.what());
    }
  });
  thread_ = std::thread([this] { io_->run(); });
}

void queue_manager::stop(std::chrono::seconds drain) {
  if (stopped_.exchange(true)) return;
  if (!thread_.joinable()) return;
  drain_deadline_ = std::chrono::steady_clock::now() + drain;
  stopping_ = true;
  poke();
  thread_.join();
}

void queue_manager::wake() { poke(); }

void queue_manager::update_transport(delivery::transport_settings ts) {
  net::asio::post(*io_, [this, ts = std::move(ts)]() mutable {
    // Deliveries in flight hold the old transport; it goes when they are done.
    retired_.push_back(std::move(transport_));
    transport_ = std::make_unique<delivery::transport>(pool_, std::move(ts));
  });
}

void queue_manager::poke() {
  net::asio::post(*io_, [this] { wake_timer_->cancel(); });
}

net::awaitable<void> queue_manager::run() {
  try {
    co_await pool_.run([this] { stores_.queue->release_leases(); });
  } catch (const std::exception& e) {
    log()->error("cannot release delivery leases: {}", e.what());
  }
  auto last_count = std::chrono::steady_clock::time_point{};
  while (!stopping_) {
    std::size_t claimed = 0;
    if (active_ < settings_.window) {
      const auto now = clock_.now();
      const std::size_t want = settings_.window - active_;
      try {
        auto batch = co_await pool_.run(
            [this, now, want] { return stores_.queue->claim_due(now, now + settings_.lease, want); });
        claimed = batch.size();
        for (auto& m : batch) {
          ++active_;
          net::asio::co_spawn(*io_, deliver(std::move(m)), [this](std::exception_ptr e) {
            if (e) {
              try {
                std::rethrow_exception(e);
              } catch (const std::exception& x) {
                log()->error("delivery crashed: {}", x.what());
              }
            }
          });
        }
      } catch (const std::exception& e) {
        log()->error("cannot read the queue: {}", e.what());
      }
    }
    if (std::chrono::steady_clock::now() - last_count > std::chrono::seconds(2)) {
      last_count = std::chrono::steady_clock::now();
      try {
        queue_size_ = co_await pool_.run([this] { return stores_.queue->count(); });
      } catch (const std::exception&) {
      }
      transport_->reap(false);
      for (auto& t : retired_) t->reap(true);
    }
    if (claimed > 0 && active_ < settings_.window) continue;  // more may be due
    wake_timer_->expires_after(std::chrono::seconds(1));
    co_await wake_timer_->async_wait(net::as_tuple_awaitable);
  }

  // Draining: deliveries waiting for a connection give up, those in a
  // transaction finish; record everything, close connections.
  transport_->shutdown();
  for (auto& t : retired_) t->shutdown();
  net::asio::steady_timer t(*io_);
  while (active_ > 0 && std::chrono::steady_clock::now() < drain_deadline_) {
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(net::as_tuple_awaitable);
  }
  while (!records_.empty() || flushing_) {
    if (!flushing_) co_await flush_records();
    t.expires_after(std::chrono::milliseconds(5));
    co_await t.async_wait(net::as_tuple_awaitable);
  }
  if (active_ > 0) log()->warn("stopping with {} deliveries unfinished; they are repeated at the next start", active_);
  transport_->reap(true);
  for (auto& t : retired_) t->reap(true);
  io_->stop();
}

net::awaitable<void> queue_manager::deliver(store::queued_message m) {
  static auto& attempt_seconds = base::metrics().get_histogram(
      "smtpsd_delivery_attempt_seconds", "Time to attempt the delivery of one message", base::latency_buckets());
  static auto& corrupt = base::metrics().get_counter("smtpsd_queue_corrupt_total", "Queue entries moved aside as corrupt");
  const auto started = std::chrono::steady_clock::now();
  struct done_guard {
    queue_manager& q;
    ~done_guard() {
      --q.active_;
      q.poke();
    }
  } guard{*this};

  // The header section (for a DSN) and, for a small message, all of it.
  std::string headers;
  std::shared_ptr<const std::string> whole;
  try {
    // (No structured binding of a co_await result: GCC 12 frees it twice.)
    // Lambdas with non-trivial captures are named before co_await: GCC 12
    // destroys such temporaries twice.
    auto load = [this, id = m.id, size = m.size] {
      auto r = stores_.bodies->open(id);
      if (!r) throw store::store_error("the message body is missing", false);
      std::shared_ptr<const std::string> all;
      if (size <= small_message) all = std::make_shared<const std::string>(r->read_all());
      return std::pair{r->header_section(), all};
    };
    auto opened = co_await pool_.run(std::move(load));
    headers = std::move(opened.first);
    whole = std::move(opened.second);
  } catch (const store::store_error& e) {
    if (e.transient()) {
      log()->warn("queue_id={} cannot read the message now: {}", m.id, e.what());
      co_return;  // the lease runs out and it is tried again
    }
    corrupt.inc();
    log()->error("queue_id={} corrupt queue entry moved aside: {}", m.id, e.what());
    headers = "\x01";  // marks the entry as corrupt below (no co_await in a handler)
  }
  if (headers == "\x01") {
    auto move_aside = [this, id = m.id] {
      stores_.bodies->quarantine(id);
      stores_.queue->remove(id);
    };
    co_await pool_.run(std::move(move_aside));
    co_return;
  }

  const auto now = clock_.now();
  // Recipients grouped by next hop (the smarthost, a route, a domain's MX):
  // one transaction per group. The groups of a message are delivered at the
  // same time, so a slow or unreachable destination does not hold up the others.
  delivery::job common;
  common.queue_id = m.id;
  common.from = m.from;
  common.size = m.size;
  common.eightbit = m.body == static_cast<int>(smtp::body_type::eight_bit_mime) ||
                    m.body == static_cast<int>(smtp::body_type::binary_mime);
  common.smtputf8 = m.smtputf8;
  common.ret = ret_text(m.ret);
  common.envid = m.envid;
  if (whole)
    common.open = [whole] { return std::make_unique<memory_source>(whole); };
  else
    common.open = [this, id = m.id] { return std::make_unique<spool_source>(stores_.bodies, pool_, id); };
  std::map<std::string, hop_attempt> by_hop;
  for (std::size_t i = 0; i < m.recipients.size(); ++i) {
    const auto& r = m.recipients[i];
    if (!store::pending(r.status) || (r.next_attempt && *r.next_attempt > now)) continue;
    auto domain = domain_of(r.address);
    auto& h = by_hop[transport_->destination(domain)];
    if (h.rcpts.empty()) {
      h.job = common;
      h.domain = std::move(domain);
    }
    h.rcpts.push_back(i);
    h.job.rcpts.push_back({r.address, notify_text(r.notify), r.orcpt});
  }
  std::vector<hop_attempt> hops;
  for (auto& [key, h] : by_hop) hops.push_back(std::move(h));

  if (hops.size() == 1) {
    auto outs = co_await transport_->deliver(hops[0].job, hops[0].domain);
    hops[0].outs = std::move(outs);
    hops[0].after = clock_.now();
  } else if (hops.size() > 1) {
    // Spawned, not awaited one by one (and not called inside co_await: see
    // worker_pool.hpp on GCC 12 and temporary arguments).
    auto shared = std::make_shared<fanout>(*io_, std::move(hops));
    for (std::size_t w = 0; w < shared->workers; ++w)
      net::asio::co_spawn(*io_, deliver_hops(transport_.get(), shared), net::asio::detached);
    if (shared->workers > 0) co_await shared->done.async_wait(net::as_tuple_awaitable);
    hops = std::move(shared->hops);
  }

  auto f = std::make_unique<finished_attempt>();
  f->headers = std::move(headers);
  for (const auto& h : hops) {
    if (h.outs.size() != h.rcpts.size()) continue;  // the attempt broke off: nothing to record, the lease runs out
    for (std::size_t k = 0; k < h.rcpts.size(); ++k) {
      auto& r = m.recipients[h.rcpts[k]];
      auto o = h.outs[k];
      if (!o.attempted) continue;  // stopping: the next start tries it
      ++r.attempts;
      r.last_response = o.response;
      switch (o.kind) {
        case delivery::outcome_kind::delivered:
          r.status = store::rcpt_status::delivered;
          r.next_attempt.reset();
          break;
        case delivery::outcome_kind::failed:
          r.status = store::rcpt_status::failed;
          r.next_attempt.reset();
          break;
        case delivery::outcome_kind::deferred: {
          const double jitter = static_cast<double>(base::real_random().next_u64() % 2001) / 1000.0 - 1.0;
          auto next = next_attempt(r.attempts, m.created, h.after, settings_.max_queue_age, jitter);
          if (next) {
            r.status = store::rcpt_status::deferred;
            r.next_attempt = next;
          } else {
            r.status = store::rcpt_status::failed;
            r.next_attempt.reset();
            o.kind = delivery::outcome_kind::failed;
            o.status = "4.4.7";
            o.response = "550 4.4.7 delivery time expired; last try: " + o.response;
            o.remote = false;
            r.last_response = o.response;
          }
          break;
        }
      }
      f->items.push_back({h.rcpts[k], std::move(o), r.status});
    }
  }
  attempt_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (f->items.empty()) co_return;  // nothing was tried; the lease is released at the next start
  f->m = std::move(m);
  records_.push_back(std::move(f));
  if (!flushing_) net::asio::co_spawn(*io_, flush_records(), net::asio::detached);
}

net::awaitable<void> queue_manager::deliver_hops(delivery::transport* t, std::shared_ptr<fanout> shared) {
  while (shared->next < shared->hops.size()) {
    auto& h = shared->hops[shared->next++];
    try {
      auto outs = co_await t->deliver(h.job, h.domain);
      h.outs = std::move(outs);
    } catch (const std::exception& e) {
      log()->error("queue_id={} delivery to {} broke off: {}", h.job.queue_id, h.domain, e.what());
    }
    h.after = clock_.now();
  }
  if (--shared->workers == 0) shared->done.cancel();
}

net::awaitable<void> queue_manager::flush_records() {
  if (flushing_) co_return;
  flushing_ = true;
  while (!records_.empty()) {
    auto batch = std::move(records_);
    records_.clear();
    std::vector<store::queued_message> ms;
    ms.reserve(batch.size());
    for (auto& f : batch) ms.push_back(f->m);
    try {
      auto removed = co_await pool_.run([this, &ms] { return stores_.queue->record_attempts(ms); });
      std::vector<std::string> drop;
      std::vector<std::pair<std::string, std::string>> suppress;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        after_record(*batch[i], removed[i]);
        if (removed[i]) drop.push_back(batch[i]->m.id);
        for (auto& it : batch[i]->items)
          if (it.o.kind == delivery::outcome_kind::failed && it.o.remote && message::hard_bounce(it.o.status))
            suppress.emplace_back(batch[i]->m.recipients[it.index].address, it.o.response);
      }
      auto tidy = [this, drop = std::move(drop), suppress = std::move(suppress)] {
        for (auto& id : drop) stores_.bodies->remove(id);
        for (auto& [address, why] : suppress) {
          if (stores_.suppressions->add(address, "bounce: " + why, clock_.now()))
            log()->info("suppressed {} after a hard bounce", address);
        }
      };
      co_await pool_.run(std::move(tidy));
    } catch (const std::exception& e) {
      // The leases run out and these attempts are repeated: at least once, never lost.
      log()->error("cannot record {} delivery attempts: {}", batch.size(), e.what());
    }
  }
  flushing_ = false;
}

void queue_manager::after_record(finished_attempt& f, bool removed) {
  static auto& delivered = base::metrics().get_counter("smtpsd_deliveries_total", "Recipients by delivery result",
                                                       {{"result", "delivered"}});
  static auto& deferred = base::metrics().get_counter("smtpsd_deliveries_total", "Recipients by delivery result",
                                                      {{"result", "deferred"}});
  static auto& failed = base::metrics().get_counter("smtpsd_deliveries_total", "Recipients by delivery result",
                                                    {{"result", "failed"}});
  const auto& m = f.m;
  const auto now = clock_.now();
  // One event per kind of result, as each names its recipients.
  for (auto kind : {delivery::outcome_kind::delivered, delivery::outcome_kind::deferred, delivery::outcome_kind::failed}) {
    events::event e;
    for (auto& it : f.items) {
      if (it.o.kind != kind) continue;
      if (e.recipients.empty()) {
        e.smtp_response = it.o.response;
        e.remote_mta = it.o.remote_mta;
      }
      e.recipients.push_back(m.recipients[it.index].address);
      log()->info("queue_id={} to={} result={} attempts={} mta={} response=\"{}\"", m.id, m.recipients[it.index].address,
                  delivery::to_string(kind), m.recipients[it.index].attempts, it.o.remote_mta,
                  base::printable(it.o.response, 300));
    }
    if (e.recipients.empty()) continue;
    (kind == delivery::outcome_kind::delivered ? delivered : kind == delivery::outcome_kind::deferred ? deferred : failed)
        .inc(e.recipients.size());
    e.type = kind == delivery::outcome_kind::delivered ? "delivery"
             : kind == delivery::outcome_kind::deferred ? "delivery_delay"
                                                         : "bounce";
    e.time = now;
    e.queue_id = m.id;
    e.message_id = m.message_id;
    e.account = m.account;
    e.from = m.from;
    events_.emit(e);
  }
  if (removed) log()->info("queue_id={} done: removed from the queue", m.id);

  // One DSN for the recipients that failed in this attempt, unless the
  // original was itself a bounce or they asked for none.
  if (m.from.empty()) return;
  message::dsn_input in;
  for (auto& it : f.items) {
    if (it.o.kind != delivery::outcome_kind::failed) continue;
    const auto& r = m.recipients[it.index];
    if (r.notify != 0 && !(r.notify & smtp::notify::failure)) continue;
    in.recipients.push_back({r.address, r.orcpt, "failed", it.o.status, it.o.response, it.o.remote_mta});
  }
  if (in.recipients.empty()) return;
  const auto id = base::make_queue_id(now, static_cast<std::uint32_t>(base::real_random().next_u64()));
  in.reporting_mta = settings_.hostname;
  in.original_sender = m.from;
  in.envid = m.envid;
  in.original_headers = f.headers;
  in.queue_id = m.id;
  in.message_id = "<" + id + ".dsn@" + settings_.hostname + ">";
  in.boundary = "smtpsd-dsn-" + id;
  in.arrival = m.created;
  in.now = now;
  log()->info("queue_id={} sending a delivery status notification to {}", m.id, m.from);
  inject_(generated_message{"", m.from, message::compose_dsn(in)});
}

}  // namespace smtpsd::queue
