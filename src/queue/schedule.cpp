#include "queue/schedule.hpp"

#include <algorithm>
#include <array>

namespace smtpsd::queue {

std::chrono::seconds backoff(unsigned failed_attempts) {
  using namespace std::chrono_literals;
  static constexpr std::array<std::chrono::seconds, 4> steps{1min, 5min, 15min, 30min};
  if (failed_attempts == 0) return 0s;
  if (failed_attempts <= steps.size()) return steps[failed_attempts - 1];
  return 1h;
}

std::optional<time_point> next_attempt(unsigned failed_attempts, time_point created, time_point now,
                                       std::chrono::seconds max_age, double jitter) {
  const auto expiry = created + max_age;
  if (now >= expiry) return std::nullopt;
  jitter = std::clamp(jitter, -1.0, 1.0);
  const auto wait = backoff(failed_attempts);
  const auto spread = std::chrono::duration_cast<time_point::duration>(wait * 0.1 * jitter);
  return std::min(now + wait + spread, expiry);
}

}  // namespace smtpsd::queue
