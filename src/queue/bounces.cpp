#include "queue/bounces.hpp"

#include "base/ids.hpp"
#include "queue/log.hpp"
#include "base/metrics.hpp"
#include "base/strings.hpp"
#include "events/classify.hpp"
#include "queue/feedback.hpp"

#include <algorithm>

namespace smtpsd::queue {

namespace {

constexpr delivery::outcome_kind kinds[] = {delivery::outcome_kind::delivered, delivery::outcome_kind::deferred,
                                            delivery::outcome_kind::failed};


}  // namespace

base::counter& deliveries_metric(delivery::outcome_kind k) {
  return base::metrics().get_counter("smtpsd_deliveries_total", "Recipients by delivery result",
                                     {{"result", std::string(delivery::to_string(k))}});
}

base::histogram& attempt_seconds_metric() {
  static auto& h = base::metrics().get_histogram(
      "smtpsd_delivery_attempt_seconds", "Time to attempt the delivery of one message", base::latency_buckets());
  return h;
}

base::counter& corrupt_entries_metric() {
  static auto& c = base::metrics().get_counter("smtpsd_queue_corrupt_total", "Queue entries moved aside as corrupt");
  return c;
}

base::gauge_callback queue_size_gauge(std::function<double()> size) {
  return {base::metrics(), "smtpsd_queue_messages", "Messages in the queue", std::move(size)};
}

void register_metrics() {
  for (auto k : kinds) deliveries_metric(k);
  attempt_seconds_metric();
  corrupt_entries_metric();
}

namespace {

events::event base_event(const finished_attempt& f, const event_context& ctx, const char* type) {
  return events::about_message(f.m, type, ctx.next_id(), ctx.now, ctx.headers ? &f.headers : nullptr);
}

void add(events::event& e, const std::string& address, const delivery::outcome& o) {
  if (e.recipients.empty()) {
    e.smtp_response = o.response;
    e.remote_mta = o.remote_mta;
    e.remote_ip = o.remote_ip;
    if (!o.tls.version.empty())
      e.tls = events::event::tls_info{o.tls.version, o.tls.cipher, o.tls.policy, o.tls.verified};
  }
  e.recipients.push_back(address);
  e.details.push_back({address, o.status, o.response});
}

}  // namespace

std::vector<events::event> attempt_events(const finished_attempt& f, const event_context& ctx) {
  std::vector<events::event> out;
  std::optional<events::event> delivered, delayed;
  std::vector<events::event> bounced;  // one per bounce class
  for (auto& it : f.items) {
    const auto& address = f.m.recipients[it.index].address;
    switch (it.o.kind) {
      case delivery::outcome_kind::delivered:
        if (!delivered) delivered = base_event(f, ctx, "delivery");
        add(*delivered, address, it.o);
        break;
      case delivery::outcome_kind::deferred:
        if (!delayed) delayed = base_event(f, ctx, "delivery_delay");
        add(*delayed, address, it.o);
        break;
      case delivery::outcome_kind::failed: {
        auto c = events::classify_bounce(it.o.status, it.o.response);
        auto match = std::find_if(bounced.begin(), bounced.end(), [&](const events::event& b) {
          return b.bounce_type == c.type && b.bounce_sub_type == c.sub_type;
        });
        if (match == bounced.end()) {
          bounced.push_back(base_event(f, ctx, "bounce"));
          bounced.back().bounce_type = c.type;
          bounced.back().bounce_sub_type = c.sub_type;
          match = std::prev(bounced.end());
        }
        add(*match, address, it.o);
        break;
      }
    }
  }
  if (delivered) {
    delivered->processing = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.now - f.m.created);
    out.push_back(std::move(*delivered));
  }
  if (delayed) {
    delayed->expires = f.m.created + ctx.max_queue_age;
    out.push_back(std::move(*delayed));
  }
  for (auto& b : bounced) out.push_back(std::move(b));
  return out;
}

std::optional<submission::generated_message> round_dsn(const finished_attempt& f, const std::string& hostname,
                                                          const std::string& dsn_id, base::time_point now) {
  const auto& m = f.m;
  if (m.from.empty()) return std::nullopt;  // never a bounce of a bounce
  message::dsn_input in;
  for (auto& it : f.items) {
    const auto& r = m.recipients[it.index];
    if (it.warn_delay) {
      in.recipients.push_back({r.address, r.orcpt, "delayed", it.o.status, it.o.response, it.o.remote_mta});
      continue;
    }
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
                 const base::clock& clock, base::random_source& random, std::string hostname,
                 std::chrono::seconds max_queue_age)
    : stores_(std::move(stores)),
      pool_(pool),
      events_(events),
      writer_(writer),
      clock_(clock),
      random_(random),
      hostname_(std::move(hostname)),
      max_queue_age_(max_queue_age) {}

std::vector<std::vector<events::event>> bounces::events_for(const std::vector<finished_attempt>& batch) {
  event_context ctx;
  ctx.now = clock_.now();
  ctx.max_queue_age = max_queue_age_;
  ctx.headers = events_.wants_headers();
  ctx.next_id = [this, now = ctx.now] { return events::make_event_id(now, random_); };
  std::vector<std::vector<events::event>> out;
  out.reserve(batch.size());
  for (auto& f : batch) out.push_back(attempt_events(f, ctx));
  return out;
}

net::awaitable<void> bounces::after_recorded(const std::vector<finished_attempt>& batch, const std::vector<bool>& removed,
                                             const std::vector<std::vector<events::event>>& events) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    report(batch[i], removed[i]);
    events_.stored(events[i]);
  }
  co_await tidy(batch, removed);
}

// Logs, metrics and events of one message's attempt.
void bounces::report(const finished_attempt& f, bool removed) {
  for (auto& it : f.items) {
    const auto& r = f.m.recipients[it.index];
    deliveries_metric(it.o.kind).inc();
    log()->info("queue_id={} to={} result={} attempts={} mta={} response=\"{}\"", f.m.id, r.address,
                delivery::to_string(it.o.kind), r.attempts, it.o.remote_mta, base::printable(it.o.response, 300));
  }
  if (removed) log()->info("queue_id={} done: removed from the queue", f.m.id);
}

// On the worker pool, together: bodies of finished messages, suppression of
// hard bounces, the DSNs.
net::awaitable<void> bounces::tidy(const std::vector<finished_attempt>& batch, const std::vector<bool>& removed) {
  std::vector<std::string> drop;
  std::vector<std::pair<std::string, std::string>> suppress;
  std::vector<submission::generated_message> dsns;
  std::vector<store::reputation_delta> hard;  // accounts' hard bounces, with their ended deliveries
  const auto now = clock_.now();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& f = batch[i];
    if (removed[i]) drop.push_back(f.m.id);
    std::uint64_t ended = 0, bounced = 0;
    for (auto& it : f.items) {
      if (it.o.hard_bounce()) {
        suppress.emplace_back(f.m.recipients[it.index].address, it.o.response);
        ++bounced;
      }
      ended += it.o.kind != delivery::outcome_kind::deferred ? 1 : 0;
    }
    if (reputation_ && f.m.account_id != 0 && !f.m.from.empty()) {
      if (bounced == 0)
        reputation_->count_recipients(f.m.account_id, ended);
      else
        hard.push_back({f.m.account_id, {policy::hour_of(now), ended, bounced, 0}});
    }
    const auto dsn_id = base::make_queue_id(now, static_cast<std::uint32_t>(random_.next_u64()));
    if (auto dsn = round_dsn(f, hostname_, dsn_id, now)) {
      log()->info("queue_id={} sending a delivery status notification to {}", f.m.id, f.m.from);
      dsns.push_back(std::move(*dsn));
    }
  }
  auto work = [this, drop = std::move(drop), suppress = std::move(suppress), dsns = std::move(dsns),
               hard = std::move(hard), now] {
    for (auto& id : drop) stores_.bodies->remove(id);
    for (auto& [address, why] : suppress)
      if (stores_.suppressions->add(address, "bounce: " + why, now)) log()->info("suppressed {} after a hard bounce", address);
    for (auto& d : dsns) writer_.enqueue_generated(d);
    if (!hard.empty()) report_reputation(reputation_->record(hard), events_, clock_, random_);
  };
  co_await pool_.run(std::move(work));
}

}  // namespace smtpsd::queue
