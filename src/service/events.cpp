#include "service/events.hpp"

#include <map>

#include "base/time_format.hpp"
#include "events/event.hpp"

namespace smtpsd::service {

namespace {

json event_json(const store::stored_event& row) {
  auto j = json::parse(events::to_json(events::from_record(row.record)));
  j["seq"] = row.seq;
  return j;
}

}  // namespace

json list_events(env& e, const event_filter& f) {
  if (!f.type.empty() && !events::known_type(f.type))
    invalid("type must be one of send, reject, delivery, bounce, delivery_delay, complaint");
  const auto limit = std::min<std::size_t>(std::max<std::size_t>(f.limit, 1), 1000);
  auto items = json::array();
  std::int64_t last = f.after;
  if (f.after > 0) {  // following: what came since, oldest first
    for (auto& row : e.stores.events->read_after(f.after, limit)) {
      last = row.seq;
      if ((!f.type.empty() && row.type != f.type) || (!f.account.empty() && row.account != f.account)) continue;
      items.push_back(event_json(row));
    }
    return {{"items", std::move(items)}, {"next", nullptr}, {"last", last}};
  }
  store::event_query q;
  q.type = f.type;
  q.account = f.account;
  q.since = f.since;
  q.until = f.until;
  q.before_seq = f.before;
  q.limit = limit + 1;  // one more than asked: is there a next page?
  auto rows = e.stores.events->query(q);  // newest first
  const bool more = rows.size() > limit;
  if (more) rows.resize(limit);
  for (auto& row : rows) items.push_back(event_json(row));
  last = rows.empty() ? e.stores.events->last_seq() : std::max(rows.front().seq, f.before);
  return {{"items", std::move(items)}, {"next", more ? json(rows.back().seq) : json(nullptr)}, {"last", last}};
}

json dead_letters(env& e, const std::string& webhook) {
  auto out = json::array();
  for (auto& d : e.stores.events->dead_letters(webhook))
    out.push_back({{"webhook", d.consumer},
                   {"event_id", d.event.id},
                   {"type", d.event.type},
                   {"time", base::rfc3339(d.event.time)},
                   {"reason", d.reason},
                   {"dead_since", base::rfc3339(d.when)},
                   {"redeliver", d.redeliver}});
  return out;
}

json redeliver(env& e, const std::string& webhook, const std::string& event_id) {
  auto n = e.stores.events->request_redelivery(webhook, event_id);
  if (n == 0 && !event_id.empty()) not_found("no dead letter with event_id " + event_id);
  return {{"redeliver", n}};
}

json statistics(env& e, const std::string& account, std::optional<base::time_point> since) {
  const auto from = since.value_or(e.clock.now() - std::chrono::days(14));
  struct point {
    std::uint64_t attempts = 0, bounces = 0, complaints = 0, rejects = 0, accepted = 0, delivered = 0, deferred = 0;
  };
  std::map<base::time_point, point> points;
  for (auto& b : e.stores.events->statistics(from, account)) {
    auto& p = points[b.start];
    if (b.type == "send") {
      p.accepted += b.events;
      p.attempts += b.recipients;
    } else if (b.type == "delivery") {
      p.delivered += b.recipients;
    } else if (b.type == "delivery_delay") {
      p.deferred += b.recipients;
    } else if (b.type == "bounce") {
      p.bounces += b.recipients;
    } else if (b.type == "complaint") {
      p.complaints += b.recipients;
    } else if (b.type == "reject") {
      p.rejects += b.events;
    }
  }
  auto data = json::array();
  for (auto& [t, p] : points)
    data.push_back({{"timestamp", base::rfc3339(t)},
                    {"delivery_attempts", p.attempts},
                    {"bounces", p.bounces},
                    {"complaints", p.complaints},
                    {"rejects", p.rejects},
                    {"accepted", p.accepted},
                    {"delivered", p.delivered},
                    {"deferred", p.deferred}});
  return {{"bucket_seconds", 900}, {"since", base::rfc3339(from)}, {"data_points", data}};
}

}  // namespace smtpsd::service
