#include "queue/schedule.hpp"

#include <gtest/gtest.h>

using namespace smtpsd;
using namespace std::chrono_literals;

TEST(schedule, backoff_grows_then_stays_hourly) {
  EXPECT_EQ(queue::backoff(1), 1min);
  EXPECT_EQ(queue::backoff(2), 5min);
  EXPECT_EQ(queue::backoff(3), 15min);
  EXPECT_EQ(queue::backoff(4), 30min);
  EXPECT_EQ(queue::backoff(5), 1h);
  EXPECT_EQ(queue::backoff(50), 1h);
}

TEST(schedule, jitter_spreads_by_ten_percent) {
  const base::time_point t0{1'800'000'000s};
  EXPECT_EQ(*queue::next_attempt(2, t0, t0, 5 * 24h, 0.0), t0 + 5min);
  EXPECT_EQ(*queue::next_attempt(2, t0, t0, 5 * 24h, 1.0), t0 + 330s);
  EXPECT_EQ(*queue::next_attempt(2, t0, t0, 5 * 24h, -1.0), t0 + 270s);
  EXPECT_EQ(*queue::next_attempt(2, t0, t0, 5 * 24h, 7.0), t0 + 330s) << "clamped";
}

TEST(schedule, last_try_at_expiry_then_give_up) {
  const base::time_point created{1'800'000'000s};
  const auto max_age = 2h;
  auto now = created + 90min;
  EXPECT_EQ(*queue::next_attempt(6, created, now, max_age, 0.0), created + 2h) << "capped at expiry";
  EXPECT_FALSE(queue::next_attempt(7, created, created + 2h, max_age, 0.0));
  EXPECT_FALSE(queue::next_attempt(1, created, created + 3h, max_age, 0.0));
}

TEST(schedule, a_day_of_failures_follows_the_steps) {
  const base::time_point created{1'800'000'000s};
  auto now = created;
  std::vector<std::chrono::minutes> waits;
  for (unsigned n = 1; n <= 6; ++n) {
    auto next = *queue::next_attempt(n, created, now, 432000s, 0.0);
    waits.push_back(std::chrono::duration_cast<std::chrono::minutes>(next - now));
    now = next;
  }
  EXPECT_EQ(waits, (std::vector<std::chrono::minutes>{1min, 5min, 15min, 30min, 60min, 60min}));
}
