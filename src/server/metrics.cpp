#include "server/metrics.hpp"

#include "events/dispatcher.hpp"
#include "queue/bounces.hpp"
#include "submission/group_committer.hpp"

namespace smtpsd::server {

base::counter& connections_metric(const std::string& listener) {
  return base::metrics().get_counter("smtpsd_connections_total", "Accepted connections, by listener",
                                     {{"listener", listener}});
}
base::counter& connections_refused_metric() {
  static auto& c = base::metrics().get_counter("smtpsd_connections_refused_total", "Connections refused before the banner");
  return c;
}
base::counter& tls_failures_metric() {
  static auto& c = base::metrics().get_counter("smtpsd_tls_handshake_failures_total", "Failed TLS handshakes");
  return c;
}
base::counter& auth_successes_metric() {
  static auto& c = base::metrics().get_counter("smtpsd_auth_successes_total", "Successful AUTH commands");
  return c;
}
base::counter& auth_failures_metric() {
  static auto& c = base::metrics().get_counter("smtpsd_auth_failures_total", "Failed AUTH commands");
  return c;
}
base::counter& duplicates_metric() {
  static auto& c = base::metrics().get_counter(
      "smtpsd_duplicate_submissions_total", "Resubmitted messages answered with the first queue id and not queued again");
  return c;
}
base::counter& rejected_metric(std::string_view reason) {
  return base::metrics().get_counter("smtpsd_messages_rejected_total",
                                     "Messages, recipients and senders refused, by reason", {{"reason", std::string(reason)}});
}

const std::vector<std::string_view>& rejection_reasons() {
  static const std::vector<std::string_view> reasons = {
      // connections and logins
      "access_denied", "too_many_connections", "too_many_connections_per_ip", "auth_throttled",
      // MAIL
      "account_removed", "account_suspended", "account_paused", "null_sender", "sender_not_authorized", "size",
      // RCPT
      "sandbox", "suppressed", "send_rate", "daily_quota", "too_many_recipients", "relay",
      // the message
      "bare_cr_lf", "line_too_long", "header_too_big", "malformed_headers", "header_from_not_authorized",
      "configuration_set", "message_tags", "dkim",
      // ours
      "storage", "storage_full"};
  return reasons;
}

void register_metrics(const config::config& c, const std::vector<std::string>& listener_labels) {
  for (auto& l : listener_labels) connections_metric(l);
  connections_refused_metric();
  tls_failures_metric();
  auth_successes_metric();
  auth_failures_metric();
  duplicates_metric();
  for (auto r : rejection_reasons()) rejected_metric(r);
  submission::register_metrics();
  queue::register_metrics();
  events::register_webhook_metrics();
}

}  // namespace smtpsd::server
