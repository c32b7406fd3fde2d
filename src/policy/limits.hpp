#pragma once
// Send-rate and 24-hour limits, counted in recipients as SES does.
//
// token_bucket: `rate` tokens per second, holding at most one second's worth
// (at least 1), so short bursts up to the rate pass. rolling_window: counts in
// minute buckets over the last 24 hours. Both take the time from the caller.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/clock.hpp"
#include "store/counters.hpp"
#include "store/types.hpp"

namespace smtpsd::policy {

class token_bucket {
 public:
  token_bucket(double rate, base::time_point now) : tokens_(capacity(rate)), last_(now) {}
  bool take(base::time_point now, double rate);
  void give_back(double n, double rate);
  double tokens() const { return tokens_; }
  static double capacity(double rate) { return rate < 1 ? 1 : rate; }

 private:
  void refill(base::time_point now, double rate);
  double tokens_;
  base::time_point last_;
};

class rolling_window {
 public:
  void add(base::time_point t, std::uint64_t n);
  std::uint64_t total(base::time_point now);
  void load(const std::vector<store::usage_bucket>& buckets);

 private:
  std::deque<store::usage_bucket> buckets_;
  std::uint64_t total_ = 0;
};

class send_limiter {
 public:
  using usage_loader = std::function<std::vector<store::usage_bucket>(std::int64_t account_id, base::time_point since)>;
  enum class outcome { ok, rate, quota };
  struct decision {
    outcome o = outcome::ok;
    double value = 0;  // recipients in the window, or tokens left
    double limit = 0;
  };

  send_limiter(const base::clock& clock, usage_loader loader) : clock_(clock), loader_(std::move(loader)) {}
  // Several nodes: the counts live in `shared` (Redis) instead of here.
  void use_shared(std::shared_ptr<store::counters> shared) { shared_ = std::move(shared); }

  // One recipient for the account. The first call for an account loads its
  // usage from the store (blocking).
  decision reserve(std::int64_t account_id, double rate, std::uint64_t max_24h);
  // reserve() without blocking: nullopt, and nothing reserved, when the
  // counts are shared or the account's usage is not loaded yet.
  std::optional<decision> try_reserve(std::int64_t account_id, double rate, std::uint64_t max_24h);
  // Recipients reserved for a transaction that did not end in the queue.
  void release(std::int64_t account_id, unsigned n, double rate);
  // Recipients reserved for a transaction that was queued.
  void commit(std::int64_t account_id, unsigned n);
  std::uint64_t usage(std::int64_t account_id);

 private:
  struct state {
    token_bucket bucket;
    rolling_window window;
    std::uint64_t reserved = 0;
  };
  state& get(std::int64_t account_id, double rate);
  decision take(state& s, double rate, std::uint64_t max_24h);  // under mu_

  const base::clock& clock_;
  usage_loader loader_;
  std::shared_ptr<store::counters> shared_;
  std::mutex mu_;
  std::map<std::int64_t, state> accounts_;
};

}  // namespace smtpsd::policy
