#pragma once
// The recipients of the transaction in progress, reserved against the
// account's send rate and 24-hour quota as each RCPT is accepted. They go
// back to the account when the transaction ends without a queued message
// (RSET, a new EHLO, a refused message, a dropped connection: whatever
// destroys the reservation) and count for good once commit() says the
// message is queued.
#include <utility>

#include "policy/submission_policy.hpp"

namespace smtpsd::policy {

class reservation {
 public:
  reservation(submission_policy& policy, sender_profile profile) : policy_(&policy), profile_(std::move(profile)) {}
  reservation(const reservation&) = delete;
  reservation& operator=(const reservation&) = delete;
  ~reservation();

  const sender_profile& profile() const { return profile_; }
  // check_rcpt accepted one more recipient (and reserved it).
  void add() { ++count_; }
  unsigned count() const { return count_; }
  // The message is queued: the recipients stay counted.
  void commit();

 private:
  submission_policy* policy_;
  sender_profile profile_;
  unsigned count_ = 0;
};

}  // namespace smtpsd::policy
