#pragma once
// The SMTP side's metrics (SPEC §5), each defined once here and used by the
// sessions and the accept loops; register_metrics() creates every series of
// SPEC §5 at zero at start-up, with every label value known up front (the
// listeners, the refusal reasons, the delivery results), so an alert can be
// written before the first message arrives.
#include <string>
#include <string_view>
#include <vector>

#include "base/metrics.hpp"
#include "config/config.hpp"

namespace smtpsd::server {

base::counter& connections_metric(const std::string& listener);
base::counter& connections_refused_metric();
base::counter& tls_failures_metric();
base::counter& auth_successes_metric();
base::counter& auth_failures_metric();
base::counter& rejected_metric(std::string_view reason);
base::counter& duplicates_metric();  // smtpsd_duplicate_submissions_total

// Every rule that refuses a connection, sender, recipient or message: the
// values of smtpsd_messages_rejected_total's `reason` label.
const std::vector<std::string_view>& rejection_reasons();

// Every series at zero, the other modules' included; `listener_labels`
// name the listeners as the accept loops count them.
void register_metrics(const config::config& c, const std::vector<std::string>& listener_labels);

}  // namespace smtpsd::server
