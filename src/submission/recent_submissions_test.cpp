#include "submission/recent_submissions.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <map>
#include <random>

namespace smtpsd::submission {
namespace {

using namespace std::chrono_literals;

// A key whose hash is `home` (its first eight octets) and whose identity is
// `n`: equal hashes make the index tell keys apart by comparing them.
recent_submissions::key make_key(std::uint64_t home, std::uint64_t n) {
  recent_submissions::key k{};
  std::memcpy(k.data(), &home, 8);
  std::memcpy(k.data() + 8, &n, 8);
  return k;
}

const base::time_point t0 = base::time_point{} + std::chrono::hours(24 * 365 * 50);

TEST(RecentSubmissions, FindsWhatItRememberedWithinTheWindow) {
  recent_submissions r(100);
  const auto k = make_key(1, 1);
  EXPECT_FALSE(r.find(k, t0 - 600s)) << "nothing remembered yet";
  r.remember(k, "06H0BWCP3SB0ABTB", t0, t0 - 600s);
  EXPECT_EQ(r.find(k, t0 - 600s), "06H0BWCP3SB0ABTB");
  EXPECT_FALSE(r.find(make_key(1, 2), t0 - 600s)) << "same hash, another key";
  EXPECT_FALSE(r.find(k, t0 + 1s)) << "remembered before not_before";
  EXPECT_EQ(r.size(), 1u);
}

TEST(RecentSubmissions, ForgetsWhatIsOlderThanTheWindowWhenItRemembers) {
  recent_submissions r(100);
  for (int i = 0; i < 10; ++i) r.remember(make_key(i, i), "06H0BWCP3SB0ABT" + std::to_string(i), t0 + i * 1s, t0 - 600s);
  EXPECT_EQ(r.size(), 10u);
  r.remember(make_key(99, 99), "06H0BWCP3SB0ABTX", t0 + 20s, t0 + 5s);
  EXPECT_EQ(r.size(), 6u) << "the five remembered before t0 + 5 s are gone";
  EXPECT_FALSE(r.find(make_key(4, 4), base::time_point{}));
  EXPECT_EQ(r.find(make_key(5, 5), base::time_point{}), "06H0BWCP3SB0ABT5");
}

TEST(RecentSubmissions, ForgetsTheOldestWhenFull) {
  recent_submissions r(3);
  for (int i = 0; i < 5; ++i) r.remember(make_key(7, i), "ID" + std::to_string(i), t0 + i * 1s, t0 - 600s);
  EXPECT_EQ(r.size(), 3u);
  EXPECT_FALSE(r.find(make_key(7, 0), t0 - 600s));
  EXPECT_FALSE(r.find(make_key(7, 1), t0 - 600s));
  for (int i = 2; i < 5; ++i) EXPECT_EQ(r.find(make_key(7, i), t0 - 600s), "ID" + std::to_string(i));
}

TEST(RecentSubmissions, RememberingAKeyAgainReplacesItsQueueIdAndTime) {
  recent_submissions r(3);
  r.remember(make_key(1, 1), "FIRST", t0, t0 - 600s);
  r.remember(make_key(2, 2), "OTHER", t0 + 1s, t0 - 600s);
  r.remember(make_key(1, 1), "SECOND", t0 + 2s, t0 - 600s);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.find(make_key(1, 1), t0 + 2s), "SECOND");
  // Its first place in the ring goes without taking the new one with it.
  r.remember(make_key(3, 3), "THIRD", t0 + 3s, t0 - 600s);
  r.remember(make_key(4, 4), "FOURTH", t0 + 4s, t0 - 600s);
  EXPECT_EQ(r.find(make_key(1, 1), t0), "SECOND");
  EXPECT_FALSE(r.find(make_key(2, 2), t0 - 600s)) << "the oldest live one made room";
}

TEST(RecentSubmissions, AQueueIdTooLongIsNotRemembered) {
  recent_submissions r(3);
  r.remember(make_key(1, 1), std::string(recent_submissions::max_id_size + 1, 'A'), t0, t0 - 600s);
  EXPECT_FALSE(r.find(make_key(1, 1), t0 - 600s));
  EXPECT_EQ(r.size(), 0u);
}

// Random operations against a plain model, with five hashes for forty keys
// so that the index holds colliding keys through erasures and reinsertions.
TEST(RecentSubmissions, AgreesWithAModelUnderRandomUse) {
  constexpr std::size_t capacity = 13;
  recent_submissions r(capacity);
  std::map<std::uint64_t, std::pair<std::string, base::time_point>> model;
  std::deque<std::pair<std::uint64_t, std::string>> order;  // key and queue id as remembered, repeats included
  std::mt19937_64 rng(7);
  auto key_of = [](std::uint64_t n) { return make_key(n % 5 * 7, n); };
  auto t = t0;
  const auto window = 30s;
  std::map<std::string, base::time_point> times;  // of each queue id remembered
  for (int step = 0; step < 200000; ++step) {
    t += std::chrono::seconds(rng() % 3);
    const std::uint64_t n = rng() % 40;
    if (rng() % 2) {
      const std::string id = "Q" + std::to_string(step);
      r.remember(key_of(n), id, t, t - window);
      // The model: forget by time, then the oldest while full, then replace.
      auto forget_front = [&] {
        auto [fn, fid] = order.front();
        order.pop_front();
        auto it = model.find(fn);
        if (it != model.end() && it->second.first == fid) model.erase(it);
      };
      while (!order.empty() && times[order.front().second] < t - window) forget_front();
      while (order.size() >= capacity) forget_front();
      model[n] = {id, t};
      // A key remembered again leaves its earlier place in the ring as a dead entry.
      order.emplace_back(n, id);
      times[id] = t;
    }
    const std::uint64_t probe = rng() % 40;
    auto it = model.find(probe);
    std::optional<std::string> want;
    if (it != model.end() && it->second.second >= t - window) want = it->second.first;
    ASSERT_EQ(r.find(key_of(probe), t - window), want) << "step " << step << " key " << probe;
    ASSERT_EQ(r.size(), model.size()) << "step " << step;
  }
}

}  // namespace
}  // namespace smtpsd::submission
