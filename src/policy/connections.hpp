#pragma once
// Who may open a session: listener access lists, connection caps (total and
// per client address) and the AUTH-failure throttle. In memory, shared by
// all I/O threads (one mutex each, held for a map lookup).
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "base/ip.hpp"
#include "store/counters.hpp"
#include "policy/rejection.hpp"

namespace smtpsd::policy {

// deny first, then allow (empty allow = everyone).
bool access_allowed(const std::vector<base::cidr>& allow, const std::vector<base::cidr>& deny,
                    const base::ip_address& ip);

class connection_limits {
 public:
  connection_limits(unsigned max_total, unsigned max_per_ip) : max_total_(max_total), max_per_ip_(max_per_ip) {}
  // Counts the connection when admitted; then release() must follow.
  std::optional<rejection> admit(const std::string& ip);
  void release(const std::string& ip);
  void set_limits(unsigned max_total, unsigned max_per_ip);
  unsigned total() const;

 private:
  mutable std::mutex mu_;
  unsigned max_total_, max_per_ip_;
  unsigned total_ = 0;
  std::unordered_map<std::string, unsigned> per_ip_;
};

// Failed AUTHs per client address in a sliding window. An address with
// `max_failures` failures inside the window is throttled until the oldest of
// them leaves it.
class auth_throttle {
 public:
  auth_throttle(const base::clock& clock, unsigned max_failures, std::chrono::seconds window)
      : clock_(clock), max_(max_failures), window_(window) {}
  bool throttled(const std::string& ip);
  // Returns the failures now inside the window.
  unsigned failure(const std::string& ip);
  void set_limits(unsigned max_failures, std::chrono::seconds window);
  unsigned limit() const { return max_; }
  // Several nodes: failures counted in `shared` (Redis), so a client that
  // fails on one node is throttled on all. While Redis is unreachable each
  // node throttles on its own count (never not at all).
  void use_shared(std::shared_ptr<store::counters> shared) { shared_ = std::move(shared); }
  bool is_shared() const { return shared_ != nullptr; }

 private:
  unsigned prune(std::deque<base::time_point>& q, base::time_point now);
  std::pair<unsigned, std::chrono::seconds> limits();
  unsigned count_locally(const std::string& ip);
  const base::clock& clock_;
  std::mutex mu_;
  unsigned max_;
  std::chrono::seconds window_;
  std::unordered_map<std::string, std::deque<base::time_point>> failures_;
  std::shared_ptr<store::counters> shared_;
};

}  // namespace smtpsd::policy
