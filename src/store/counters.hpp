#pragma once
// Counters several nodes share (Redis): each account's send rate and rolling
// 24-hour recipient count, and failed AUTHs per client address. Without them
// (one node) policy keeps these in memory. Calls block: the worker pool runs
// them. An unreachable store throws store_error (transient): callers answer
// 451 4.3.0, never "unlimited".
#include <chrono>
#include <cstdint>
#include <string_view>

#include "store/types.hpp"

namespace smtpsd::store {

class counters {
 public:
  enum class verdict { ok, rate, quota };
  struct decision {
    verdict v = verdict::ok;
    double value = 0;  // recipients in the 24 hours, or tokens left
    double limit = 0;
  };
  virtual ~counters() = default;

  // One recipient for the account: taken from its send-rate bucket (`rate`
  // per second, holding one second's worth, at least 1) and counted in its
  // rolling 24 hours, unless either is spent.
  virtual decision reserve(std::int64_t account_id, double rate, std::uint64_t max_24h) = 0;
  // Recipients reserved for a transaction that was not queued.
  virtual void release(std::int64_t account_id, unsigned n, double rate) = 0;
  virtual std::uint64_t usage_24h(std::int64_t account_id) = 0;

  // Counts a failed AUTH from `ip`; returns the failures within `window`.
  virtual unsigned add_auth_failure(std::string_view ip, std::chrono::seconds window) = 0;
  virtual unsigned auth_failures(std::string_view ip, std::chrono::seconds window) = 0;
};

}  // namespace smtpsd::store
