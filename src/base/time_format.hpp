#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.hpp"

namespace smtpsd::base {

// "2026-11-22T22:38:00Z" (RFC 3339, UTC, whole seconds)
std::string rfc3339(time_point t);
// "2026-11-22T22:38:00.123Z" (milliseconds, as SES writes its timestamps)
std::string rfc3339_ms(time_point t);
std::optional<time_point> parse_rfc3339(std::string_view s);
// "Sun, 22 Nov 2026 22:38:00 +0000" (RFC 5322 date-time, UTC)
std::string rfc5322_date(time_point t);
std::int64_t unix_seconds(time_point t);
time_point from_unix_seconds(std::int64_t s);

}  // namespace smtpsd::base
