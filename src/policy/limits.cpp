#include "policy/limits.hpp"

#include <algorithm>
#include <chrono>

namespace smtpsd::policy {

namespace {
constexpr auto day = std::chrono::hours(24);
base::time_point minute_of(base::time_point t) {
  return std::chrono::time_point_cast<std::chrono::minutes>(t);
}
}  // namespace

void token_bucket::refill(base::time_point now, double rate) {
  if (now > last_) {
    tokens_ = std::min(capacity(rate), tokens_ + std::chrono::duration<double>(now - last_).count() * rate);
    last_ = now;
  }
  tokens_ = std::min(tokens_, capacity(rate));  // the rate may have been lowered
}

bool token_bucket::take(base::time_point now, double rate) {
  refill(now, rate);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void token_bucket::give_back(double n, double rate) { tokens_ = std::min(capacity(rate), tokens_ + n); }

void rolling_window::add(base::time_point t, std::uint64_t n) {
  auto m = minute_of(t);
  if (!buckets_.empty() && buckets_.back().minute == m)
    buckets_.back().count += n;
  else
    buckets_.push_back({m, n});
  total_ += n;
}

std::uint64_t rolling_window::total(base::time_point now) {
  while (!buckets_.empty() && buckets_.front().minute + day <= now) {
    total_ -= buckets_.front().count;
    buckets_.pop_front();
  }
  return total_;
}

void rolling_window::load(const std::vector<store::usage_bucket>& buckets) {
  for (auto& b : buckets) add(b.minute, b.count);
}

send_limiter::state& send_limiter::get(std::int64_t account_id, double rate) {
  auto it = accounts_.find(account_id);
  if (it != accounts_.end()) return it->second;
  const auto now = clock_.now();
  state s{token_bucket(rate, now), {}, 0};
  s.window.load(loader_(account_id, now - day));
  return accounts_.emplace(account_id, std::move(s)).first->second;
}

send_limiter::decision send_limiter::reserve(std::int64_t account_id, double rate, std::uint64_t max_24h) {
  if (shared_) {
    const auto d = shared_->reserve(account_id, rate, max_24h);
    using v = store::counters::verdict;
    return {d.v == v::ok ? outcome::ok : d.v == v::rate ? outcome::rate : outcome::quota, d.value, d.limit};
  }
  std::lock_guard l(mu_);
  return take(get(account_id, rate), rate, max_24h);
}

std::optional<send_limiter::decision> send_limiter::try_reserve(std::int64_t account_id, double rate,
                                                                std::uint64_t max_24h) {
  if (shared_) return std::nullopt;
  std::lock_guard l(mu_);
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) return std::nullopt;
  return take(it->second, rate, max_24h);
}

send_limiter::decision send_limiter::take(state& s, double rate, std::uint64_t max_24h) {
  const auto now = clock_.now();
  const auto used = s.window.total(now) + s.reserved;
  if (used + 1 > max_24h) return {outcome::quota, static_cast<double>(used), static_cast<double>(max_24h)};
  if (!s.bucket.take(now, rate)) return {outcome::rate, s.bucket.tokens(), rate};
  ++s.reserved;
  return {outcome::ok, static_cast<double>(used + 1), static_cast<double>(max_24h)};
}

void send_limiter::release(std::int64_t account_id, unsigned n, double rate) {
  if (shared_) return shared_->release(account_id, n, rate);
  std::lock_guard l(mu_);
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) return;
  it->second.reserved -= std::min<std::uint64_t>(n, it->second.reserved);
  it->second.bucket.give_back(n, rate);
}

void send_limiter::commit(std::int64_t account_id, unsigned n) {
  if (shared_) return;  // counted for good at reserve()
  std::lock_guard l(mu_);
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) return;
  it->second.reserved -= std::min<std::uint64_t>(n, it->second.reserved);
  it->second.window.add(clock_.now(), n);
}

std::uint64_t send_limiter::usage(std::int64_t account_id) {
  if (shared_) return shared_->usage_24h(account_id);
  std::lock_guard l(mu_);
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) return 0;
  return it->second.window.total(clock_.now());
}

}  // namespace smtpsd::policy
