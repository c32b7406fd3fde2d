#include "policy/connections.hpp"

#include <fmt/format.h>

#include "smtp/replies.hpp"

namespace smtpsd::policy {

bool access_allowed(const std::vector<base::cidr>& allow, const std::vector<base::cidr>& deny,
                    const base::ip_address& ip) {
  for (auto& c : deny)
    if (c.contains(ip)) return false;
  if (allow.empty()) return true;
  for (auto& c : allow)
    if (c.contains(ip)) return true;
  return false;
}

std::optional<rejection> connection_limits::admit(const std::string& ip) {
  std::lock_guard l(mu_);
  if (total_ >= max_total_)
    return rejection{smtp::replies::too_many_connections(), "too_many_connections",
                     fmt::format("connections={} limit={}", total_, max_total_)};
  auto& n = per_ip_[ip];
  if (n >= max_per_ip_)
    return rejection{smtp::replies::too_many_connections_from_ip(), "too_many_connections_per_ip",
                     fmt::format("ip={} connections={} limit={}", ip, n, max_per_ip_)};
  ++n;
  ++total_;
  return std::nullopt;
}

void connection_limits::release(const std::string& ip) {
  std::lock_guard l(mu_);
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  if (total_ > 0) --total_;
}

void connection_limits::set_limits(unsigned max_total, unsigned max_per_ip) {
  std::lock_guard l(mu_);
  max_total_ = max_total;
  max_per_ip_ = max_per_ip;
}

unsigned connection_limits::total() const {
  std::lock_guard l(mu_);
  return total_;
}

std::pair<unsigned, std::chrono::seconds> auth_throttle::limits() {
  std::lock_guard l(mu_);
  return {max_, window_};
}

unsigned auth_throttle::prune(std::deque<base::time_point>& q, base::time_point now) {
  while (!q.empty() && q.front() + window_ <= now) q.pop_front();
  return static_cast<unsigned>(q.size());
}

bool auth_throttle::throttled(const std::string& ip) {
  if (shared_) {
    const auto [max, window] = limits();
    try {
      return shared_->auth_failures(ip, window) >= max;
    } catch (const store::store_error&) {
      // Redis is away: this node's own count still throttles.
    }
  }
  std::lock_guard l(mu_);
  auto it = failures_.find(ip);
  if (it == failures_.end()) return false;
  if (prune(it->second, clock_.now()) == 0) {
    failures_.erase(it);
    return false;
  }
  return it->second.size() >= max_;
}

unsigned auth_throttle::failure(const std::string& ip) {
  if (shared_) {
    unsigned local = count_locally(ip);  // kept too, for when Redis is away
    try {
      return shared_->add_auth_failure(ip, limits().second);
    } catch (const store::store_error&) {
      return local;
    }
  }
  return count_locally(ip);
}

unsigned auth_throttle::count_locally(const std::string& ip) {
  std::lock_guard l(mu_);
  const auto now = clock_.now();
  if (failures_.size() > 100000) {  // bound memory under a spray of addresses
    for (auto it = failures_.begin(); it != failures_.end();)
      it = prune(it->second, now) == 0 ? failures_.erase(it) : std::next(it);
  }
  auto& q = failures_[ip];
  prune(q, now);
  q.push_back(now);
  while (q.size() > max_) q.pop_front();  // only the newest `max` matter
  return static_cast<unsigned>(q.size());
}

void auth_throttle::set_limits(unsigned max_failures, std::chrono::seconds window) {
  std::lock_guard l(mu_);
  max_ = max_failures;
  window_ = window;
}

}  // namespace smtpsd::policy
