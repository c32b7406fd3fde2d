#include "policy/reputation.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "smtp/replies.hpp"

namespace smtpsd::policy {

reputation_figures sum_window(const std::vector<store::reputation_bucket>& newest_first, std::uint64_t window_recipients) {
  reputation_figures f;
  for (auto& b : newest_first) {
    if (f.recipients >= window_recipients) break;
    f.recipients += b.recipients;
    f.bounces += b.bounces;
    f.complaints += b.complaints;
  }
  return f;
}

std::string_view to_string(reputation_status s) {
  switch (s) {
    case reputation_status::healthy: return "healthy";
    case reputation_status::warning: return "warning";
    case reputation_status::paused: return "paused";
  }
  return "healthy";
}

reputation_verdict judge(const reputation_figures& f, const reputation_thresholds& t) {
  reputation_verdict v;
  if (f.recipients < t.min_recipients) return v;
  auto make = [&](reputation_status s, const char* metric, double percent) {
    return reputation_verdict{s, metric, percent,
                              fmt::format("{} rate {:.1f} % over the last {} recipients", metric, percent, f.recipients)};
  };
  const double b = f.bounce_percent(), c = f.complaint_percent();
  if (c >= t.complaint_pause_percent && f.complaints > 0) return make(reputation_status::paused, "complaint", c);
  if (b >= t.bounce_pause_percent && f.bounces > 0) return make(reputation_status::paused, "bounce", b);
  if (c >= t.complaint_warning_percent && f.complaints > 0) return make(reputation_status::warning, "complaint", c);
  if (b >= t.bounce_warning_percent && f.bounces > 0) return make(reputation_status::warning, "bounce", b);
  return v;
}

base::time_point hour_of(base::time_point t) {
  return std::chrono::time_point_cast<base::time_point::duration>(std::chrono::floor<std::chrono::hours>(t));
}

reputation_figures account_figures(store::account_store& s, const store::account& a, const reputation_thresholds& t,
                                   base::time_point now) {
  // Counted from the first whole hour after the last resume, within the window's days.
  auto since = now - std::chrono::days(t.window_days);
  if (a.reputation_since.time_since_epoch().count() > 0) {
    auto after_resume = hour_of(a.reputation_since) + std::chrono::hours(1);
    if (after_resume > since) since = after_resume;
  }
  return sum_window(s.reputation(a.id, since), t.window_recipients);
}

reputation_monitor::reputation_monitor(std::shared_ptr<store::account_store> accounts, const base::clock& clock,
                                       reputation_thresholds t)
    : accounts_(std::move(accounts)), clock_(clock), t_(t) {}

void reputation_monitor::count_recipients(std::int64_t account_id, std::uint64_t n) {
  if (n == 0) return;
  std::lock_guard l(mu_);
  pending_[{account_id, hour_of(clock_.now())}] += n;
}

std::vector<store::reputation_delta> reputation_monitor::take_pending() {
  std::lock_guard l(mu_);
  std::vector<store::reputation_delta> out;
  for (auto& [key, n] : pending_) out.push_back({key.first, {key.second, n, 0, 0}});
  pending_.clear();
  return out;
}

void reputation_monitor::flush() {
  auto d = take_pending();
  if (!d.empty()) accounts_->add_reputation(d);
}

reputation_figures reputation_monitor::figures(const store::account& a) {
  return account_figures(*accounts_, a, t_, clock_.now());
}

std::vector<reputation_change> reputation_monitor::record(std::span<const store::reputation_delta> deltas) {
  auto all = take_pending();
  all.insert(all.end(), deltas.begin(), deltas.end());
  if (!all.empty()) accounts_->add_reputation(all);
  std::vector<reputation_change> out;
  std::vector<std::int64_t> judged;
  for (auto& d : deltas) {
    if (d.counts.bounces == 0 && d.counts.complaints == 0) continue;
    if (std::find(judged.begin(), judged.end(), d.account_id) != judged.end()) continue;
    judged.push_back(d.account_id);
    auto a = accounts_->find_account(d.account_id);
    if (!a) continue;
    auto f = figures(*a);
    auto v = judge(f, t_);
    bool changed = false, report = false;
    if (v.status == reputation_status::paused && a->paused.empty()) {
      a->paused = v.reason;
      a->reputation_warning = v.reason;
      changed = report = true;
    } else if (v.status == reputation_status::warning && a->reputation_warning.empty()) {
      a->reputation_warning = v.reason;
      changed = report = true;
    } else if (v.status == reputation_status::healthy && !a->reputation_warning.empty() && a->paused.empty()) {
      a->reputation_warning.clear();
      changed = true;
    }
    if (changed) accounts_->update_account(*a);
    if (report)
      out.push_back({*a, v, f, a->paused.empty() ? std::string() : smtp::replies::sending_paused(a->name, a->paused).summary()});
  }
  return out;
}

}  // namespace smtpsd::policy
