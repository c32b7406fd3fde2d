#pragma once
// Recent events and the statistics kept from them (SES's GetSendStatistics).
#include <optional>
#include <string>

#include "service/service.hpp"

namespace smtpsd::service {

struct event_filter {
  std::string type;     // "" = any
  std::string account;  // "" = any
  std::optional<base::time_point> since, until;
  std::int64_t before = 0;  // older than this seq (paging back)
  std::int64_t after = 0;   // newer than this seq (following): oldest first
  std::size_t limit = 100;
};

// {"items": [events in the smtpsd format, each with "seq"], "next": seq to
// page back from or null, "last": the newest seq seen}
json list_events(env& e, const event_filter& f);
// [{"webhook", "event_id", "type", "time", "reason", "dead_since", "redeliver"}]; webhook "" = all
json dead_letters(env& e, const std::string& webhook);
// {"redeliver": N}: one (by event id) or, with id "", all of the webhook's ("" = every webhook's)
json redeliver(env& e, const std::string& webhook, const std::string& event_id);
// 15-minute buckets since `since` (default 14 days): {"bucket_seconds": 900,
// "data_points": [{"timestamp", "delivery_attempts", "bounces", "complaints",
// "rejects", "accepted", "delivered", "deferred"}]}; account "" = all.
json statistics(env& e, const std::string& account, std::optional<base::time_point> since);

}  // namespace smtpsd::service
