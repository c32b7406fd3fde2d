#pragma once
// When to try a deferred recipient again. Pure: the caller passes the time
// and the jitter, so the schedule is unit-tested without a clock.
#include <chrono>
#include <optional>

#include "base/clock.hpp"

namespace smtpsd::queue {

using base::time_point;

// The wait after the n-th failed attempt (n >= 1): 1, 5, 15, 30 minutes,
// then hourly.
std::chrono::seconds backoff(unsigned failed_attempts);

// The next attempt after `failed_attempts` failures, `jitter` in [-1, 1]
// spreading it by up to ±10 % so retries of a burst do not arrive together.
// Never later than created + max_age, so the last try happens at expiry;
// nullopt once the message is that old: give up and bounce.
std::optional<time_point> next_attempt(unsigned failed_attempts, time_point created, time_point now,
                                       std::chrono::seconds max_age, double jitter);

}  // namespace smtpsd::queue
