#pragma once
// Accounts: senders with their limits, suspension, default configuration
// set and 24-hour usage (SES's GetSendQuota).
#include <optional>
#include <string>

#include "service/service.hpp"

namespace smtpsd::service {

// Changes as a person writes them: numbers or "default", "true"/"false",
// a set name or "none". Absent: unchanged.
struct account_changes {
  std::optional<std::string> max_send_rate, max_24h, max_message_bytes, suspended, configuration_set;
};

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
// SES's GetSendQuota: {"max_24h", "max_send_rate", "sent_last_24h"}
json account_quota(env& e, const std::string& name);

}  // namespace smtpsd::service
