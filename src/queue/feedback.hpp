#pragma once
// What comes back to the return path (SPEC §9): a report that reached the
// inbound listener becomes what a bounce during delivery would have become
// (a bounce event, a suppression of a hard bounce, the account's bounce
// rate) or a complaint (a complaint event, a suppression, the complaint
// rate). Only reports for addresses smtpsd made count: the VERP address the
// report came to (or, for feedback reports sent elsewhere, the original's
// Return-Path) must carry a valid HMAC, and the recipient is the one its tag
// names. Everything else is counted and dropped, never relayed.
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/random.hpp"
#include "events/event.hpp"
#include "inbound/report.hpp"
#include "policy/reputation.hpp"
#include "store/stores.hpp"

namespace smtpsd::queue {

struct feedback_settings {
  std::string domain;  // [bounces] domain
  std::string key;     // inbound::verp_key of the installation
};

// What one inbound message came to, for the log and
// smtpsd_inbound_reports_total{kind,result}.
struct feedback_result {
  inbound::report_kind kind = inbound::report_kind::unknown;
  std::string result;  // recorded, not_a_report, no_return_path, forged, unknown_account, not_a_failure
  std::string queue_id;
  std::string account;
  std::string recipient;
};

// The events of a new reputation warning or pause.
events::event reputation_event(const policy::reputation_change& c, base::time_point now, std::string id);
// Emits them and counts smtpsd_reputation_changes_total{status,metric}.
void report_reputation(std::span<const policy::reputation_change> changes, events::sink& sink, const base::clock& clock,
                       base::random_source& random);
// Every series at zero (start-up).
void register_feedback_metrics();

class feedback {
 public:
  feedback(store::stores stores, policy::reputation_monitor& reputation, events::sink& events, const base::clock& clock,
           base::random_source& random, feedback_settings s);

  // Blocking (the worker pool): one message the inbound listener accepted,
  // with its envelope recipients.
  feedback_result process(std::span<const std::string> rcpts, std::string_view message);

 private:
  store::stores stores_;
  policy::reputation_monitor& reputation_;
  events::sink& events_;
  const base::clock& clock_;
  base::random_source& random_;
  feedback_settings s_;
};

}  // namespace smtpsd::queue
