#pragma once
// Sender reputation (SPEC §9): each account's bounce and complaint rates
// over its last `window_recipients` recipients or `window_days` days,
// whichever is shorter, judged against thresholds (SES's by default): a
// warning, or a pause that only `account resume` lifts. Counted in hourly
// buckets of the account store. Recipients whose delivery ended are counted
// in memory and written every few seconds (and with each bounce or
// complaint), so delivery does not pay a store write per batch.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "store/account_store.hpp"

namespace smtpsd::policy {

struct reputation_thresholds {
  double bounce_warning_percent = 5;
  double bounce_pause_percent = 10;
  double complaint_warning_percent = 0.1;
  double complaint_pause_percent = 0.5;
  std::uint64_t min_recipients = 200;
  std::uint64_t window_recipients = 10000;
  unsigned window_days = 14;
};

struct reputation_figures {
  std::uint64_t recipients = 0;
  std::uint64_t bounces = 0;
  std::uint64_t complaints = 0;
  double bounce_percent() const { return recipients ? 100.0 * static_cast<double>(bounces) / static_cast<double>(recipients) : 0; }
  double complaint_percent() const {
    return recipients ? 100.0 * static_cast<double>(complaints) / static_cast<double>(recipients) : 0;
  }
};

// Sums buckets (newest first) until `window_recipients` recipients are covered. Pure.
reputation_figures sum_window(const std::vector<store::reputation_bucket>& newest_first, std::uint64_t window_recipients);

enum class reputation_status { healthy, warning, paused };
std::string_view to_string(reputation_status s);

struct reputation_verdict {
  reputation_status status = reputation_status::healthy;
  std::string metric;  // "bounce" or "complaint"; "" when healthy
  double percent = 0;
  std::string reason;  // "bounce rate 12.3 % over the last 10000 recipients"
};

// Pure: below min_recipients nothing is judged; a pause wins over a warning,
// complaints over bounces.
reputation_verdict judge(const reputation_figures& f, const reputation_thresholds& t);

// What a record() changed on an account: a new warning or a pause.
struct reputation_change {
  store::account account;  // as it now is
  reputation_verdict verdict;
  reputation_figures figures;
  std::string reply;  // a pause: the reply MAIL now gets; "" for a warning
};

class reputation_monitor {
 public:
  reputation_monitor(std::shared_ptr<store::account_store> accounts, const base::clock& clock, reputation_thresholds t);

  // Recipients whose delivery ended (delivered or failed): counted in memory.
  void count_recipients(std::int64_t account_id, std::uint64_t n);
  // Blocking: hard bounces and complaints (with the recipients counted so
  // far) written, and the accounts they touch judged; a pause is stored on
  // the account. Returns the warnings and pauses that are new.
  std::vector<reputation_change> record(std::span<const store::reputation_delta> deltas);
  // Blocking: writes the recipients counted in memory.
  void flush();
  // Blocking: an account's figures now.
  reputation_figures figures(const store::account& a);
  const reputation_thresholds& thresholds() const { return t_; }

 private:
  std::vector<store::reputation_delta> take_pending();

  std::shared_ptr<store::account_store> accounts_;
  const base::clock& clock_;
  reputation_thresholds t_;
  std::mutex mu_;
  std::map<std::pair<std::int64_t, base::time_point>, std::uint64_t> pending_;  // (account, hour) → recipients
};

// The hour a time falls in.
base::time_point hour_of(base::time_point t);
// Figures of an account from the store (the CLI and the API).
reputation_figures account_figures(store::account_store& s, const store::account& a, const reputation_thresholds& t,
                                   base::time_point now);

}  // namespace smtpsd::policy
