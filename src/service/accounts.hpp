#pragma once
// Accounts: senders with their limits, suspension, default configuration
// set and 24-hour usage (SES's GetSendQuota).
#include <optional>
#include <string>

#include "policy/reputation.hpp"
#include "service/service.hpp"

namespace smtpsd::service {

// Changes as a person writes them: numbers or "default", "true"/"false",
// a set name or "none". Absent: unchanged.
struct account_changes {
  std::optional<std::string> max_send_rate, max_24h, max_message_bytes, suspended, configuration_set, sandbox;
};

policy::reputation_thresholds reputation_thresholds(const config::reputation_settings& r);

void validate_account_name(const std::string& name);
store::account require_account(env& e, const std::string& name);

// {"name", "max_send_rate", "max_24h", "max_message_bytes", "suspended",
//  "configuration_set", "sent_last_24h", "created"}
json account_json(env& e, const store::account& a);
json add_account(env& e, const std::string& name, const account_changes& c);
json list_accounts(env& e);
json show_account(env& e, const std::string& name);
json set_account(env& e, const std::string& name, const account_changes& c);
json remove_account(env& e, const std::string& name);
// Lifts a reputation pause; rates count again from the next whole hour.
json resume_account(env& e, const std::string& name);
// A sandboxed account may also send to `address` (or no longer, with remove).
json allow_recipient(env& e, const std::string& name, const std::string& address, bool remove);
// `policy explain`: {"account", "from", "to", "size", "checks": [{"check",
// "verdict", "detail", "reply"}], "reply"}: each check a submission meets,
// in order, and the reply the first failure gives ("250 …" when none fails).
// Counts nothing.
json explain_policy(env& e, const std::string& account, const std::string& from, const std::string& to,
                    std::uint64_t size);
// SES's GetSendQuota: {"max_24h", "max_send_rate", "sent_last_24h"}
json account_quota(env& e, const std::string& name);

}  // namespace smtpsd::service
