#include "queue/bounces.hpp"

#include "base/ids.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
#include "base/strings.hpp"

namespace smtpsd::queue {

namespace {

std::shared_ptr<spdlog::logger> log() {
  static auto l = base::logger("queue");
  return l;
}

constexpr delivery::outcome_kind kinds[] = {delivery::outcome_kind::delivered, delivery::outcome_kind::deferred,
                                            delivery::outcome_kind::failed};

const char* event_type(delivery::outcome_kind k) {
  switch (k) {
    case delivery::outcome_kind::delivered: return "delivery";
    case delivery::outcome_kind::deferred: return "delivery_delay";
    case delivery::outcome_kind::failed: return "bounce";
  }
  return "";
}

base::counter& deliveries(delivery::outcome_kind k) {
  static auto& delivered = base::metrics().get_counter("smtpsd_deliveries_total", "Recipients by delivery result",
                                                       {{"result", "delivered"}});
  static auto& deferred = base::metrics().get_counter("smtpsd_deliveries_total", "Recipients by delivery result",
                                                      {{"result", "deferred"}});
  static auto& failed = base::metrics().get_counter("smtpsd_deliveries_total", "Recipients by delivery result",
                                                    {{"result", "failed"}});
  return k == delivery::outcome_kind::delivered ? delivered : k == delivery::outcome_kind::deferred ? deferred : failed;
}

}  // namespace

std::vector<events::event> attempt_events(const finished_attempt& f, base::time_point now) {
  std::vector<events::event> out;
  for (auto kind : kinds) {
    events::event e;
    for (auto& it : f.items) {
      if (it.o.kind != kind) continue;
      if (e.recipients.empty()) {
        e.smtp_response = it.o.response;
        e.remote_mta = it.o.remote_mta;
      }
      e.recipients.push_back(f.m.recipients[it.index].address);
    }
    if (e.recipients.empty()) continue;
    e.type = event_type(kind);
    e.time = now;
    e.queue_id = f.m.id;
    e.message_id = f.m.message_id;
    e.account = f.m.account;
    e.from = f.m.from;
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<submission::generated_message> failure_dsn(const finished_attempt& f, const std::string& hostname,
                                                          const std::string& dsn_id, base::time_point now) {
  const auto& m = f.m;
  if (m.from.empty()) return std::nullopt;  // never a bounce of a bounce
  message::dsn_input in;
  for (auto& it : f.items) {
    const auto& r = m.recipients[it.index];
    if (it.o.kind != delivery::outcome_kind::failed || !r.notify.wants(base::dsn_notify::failure)) continue;
    in.recipients.push_back({r.address, r.orcpt, "failed", it.o.status, it.o.response, it.o.remote_mta});
  }
  if (in.recipients.empty()) return std::nullopt;
  in.reporting_mta = hostname;
  in.original_sender = m.from;
  in.envid = m.envid;
  in.original_headers = f.headers;
  in.queue_id = m.id;
  in.message_id = "<" + dsn_id + ".dsn@" + hostname + ">";
  in.boundary = "smtpsd-dsn-" + dsn_id;
  in.arrival = m.created;
  in.now = now;
  return submission::generated_message{"", m.from, message::compose_dsn(in)};
}

bounces::bounces(store::stores stores, net::worker_pool& pool, events::sink& events, submission::queue_writer& writer,
                 const base::clock& clock, base::random_source& random, std::string hostname)
    : stores_(std::move(stores)),
      pool_(pool),
      events_(events),
      writer_(writer),
      clock_(clock),
      random_(random),
      hostname_(std::move(hostname)) {}

net::awaitable<void> bounces::after_recorded(const std::vector<finished_attempt>& batch,
                                             const std::vector<bool>& removed) {
  for (std::size_t i = 0; i < batch.size(); ++i) report(batch[i], removed[i]);
  co_await tidy(batch, removed);
}

// Logs, metrics and events of one message's attempt.
void bounces::report(const finished_attempt& f, bool removed) {
  for (auto& it : f.items) {
    const auto& r = f.m.recipients[it.index];
    deliveries(it.o.kind).inc();
    log()->info("queue_id={} to={} result={} attempts={} mta={} response=\"{}\"", f.m.id, r.address,
                delivery::to_string(it.o.kind), r.attempts, it.o.remote_mta, base::printable(it.o.response, 300));
  }
  for (auto& e : attempt_events(f, clock_.now())) events_.emit(e);
  if (removed) log()->info("queue_id={} done: removed from the queue", f.m.id);
}

// On the worker pool, together: bodies of finished messages, suppression of
// hard bounces, the DSNs.
net::awaitable<void> bounces::tidy(const std::vector<finished_attempt>& batch, const std::vector<bool>& removed) {
  std::vector<std::string> drop;
  std::vector<std::pair<std::string, std::string>> suppress;
  std::vector<submission::generated_message> dsns;
  const auto now = clock_.now();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& f = batch[i];
    if (removed[i]) drop.push_back(f.m.id);
    for (auto& it : f.items)
      if (it.o.hard_bounce()) suppress.emplace_back(f.m.recipients[it.index].address, it.o.response);
    const auto dsn_id = base::make_queue_id(now, static_cast<std::uint32_t>(random_.next_u64()));
    if (auto dsn = failure_dsn(f, hostname_, dsn_id, now)) {
      log()->info("queue_id={} sending a delivery status notification to {}", f.m.id, f.m.from);
      dsns.push_back(std::move(*dsn));
    }
  }
  auto work = [this, drop = std::move(drop), suppress = std::move(suppress), dsns = std::move(dsns), now] {
    for (auto& id : drop) stores_.bodies->remove(id);
    for (auto& [address, why] : suppress)
      if (stores_.suppressions->add(address, "bounce: " + why, now)) log()->info("suppressed {} after a hard bounce", address);
    for (auto& d : dsns) writer_.enqueue_generated(d);
  };
  co_await pool_.run(std::move(work));
}

}  // namespace smtpsd::queue
