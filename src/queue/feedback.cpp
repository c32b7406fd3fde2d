#include "queue/feedback.hpp"

#include <fmt/format.h>

#include "base/ids.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
#include "base/strings.hpp"
#include "events/classify.hpp"
#include "inbound/verp.hpp"

namespace smtpsd::queue {

namespace {

std::shared_ptr<spdlog::logger> inbound_log() {
  static auto l = base::logger("inbound");
  return l;
}

base::counter& reports_metric(std::string_view kind, std::string_view result) {
  return base::metrics().get_counter("smtpsd_inbound_reports_total",
                                     "Messages the inbound listener took, by report kind and what came of them",
                                     {{"kind", std::string(kind)}, {"result", std::string(result)}});
}

base::counter& reputation_metric(std::string_view status, std::string_view metric) {
  return base::metrics().get_counter("smtpsd_reputation_changes_total",
                                     "Accounts that crossed a reputation threshold, by status and metric",
                                     {{"status", std::string(status)}, {"metric", std::string(metric)}});
}

// The recipient a return path was made for, among the addresses a report names.
std::string find_recipient(std::string_view key, const inbound::return_path& rp, const inbound::report& r) {
  auto try_one = [&](const std::string& a) { return !a.empty() && inbound::recipient_matches(key, rp, a); };
  for (auto& x : r.recipients)
    if (try_one(x.address)) return x.address;
  for (auto& a : r.original_rcpt_to)
    if (try_one(a)) return a;
  for (auto& a : r.original_to)
    if (try_one(a)) return a;
  for (auto& a : r.addresses)
    if (try_one(a)) return a;
  return {};
}

// The return path a report came back for: the envelope recipient, else (a
// feedback report sent to another address) the original's Return-Path or
// MAIL FROM.
inbound::verp_check locate(const feedback_settings& s, std::span<const std::string> rcpts, const inbound::report& r,
                           inbound::return_path& rp) {
  std::vector<std::string> candidates(rcpts.begin(), rcpts.end());
  for (auto* a : {&r.original_return_path, &r.original_mail_from})
    if (!a->empty()) candidates.push_back(*a);
  bool forged = false;
  for (auto& c : candidates) {
    auto v = inbound::parse_return_path(s.key, s.domain, c, rp);
    if (v == inbound::verp_check::ok) return v;
    forged |= v == inbound::verp_check::forged;
  }
  return forged ? inbound::verp_check::forged : inbound::verp_check::not_verp;
}

// What a report says of the recipient: a complaint, or a bounce classified
// from its failed entry (the recipient's, else the first); nullopt when
// nothing failed (delayed, delivered, relayed) or the feedback is not-spam.
std::optional<events::event> report_event(const inbound::report& r, const std::string& recipient) {
  events::event e;
  e.message_id = r.original_message_id;
  e.from = r.original_from;
  if (!recipient.empty()) e.recipients.push_back(recipient);
  if (r.kind == inbound::report_kind::arf) {
    e.type = "complaint";
    e.reason = r.feedback_type.empty() ? "abuse" : r.feedback_type;
    if (e.reason == "not-spam") return std::nullopt;
    return e;
  }
  const inbound::report_recipient* entry = nullptr;
  for (auto& x : r.recipients)
    if (x.action == "failed" || x.action.empty())
      if (!entry || base::iequals(x.address, recipient)) entry = &x;
  if (!entry) return std::nullopt;
  e.type = "bounce";
  e.smtp_response = entry->diagnostic.empty() ? entry->status : entry->diagnostic;
  e.remote_mta = entry->remote_mta;
  auto c = events::classify_bounce(entry->status, entry->diagnostic);
  e.bounce_type = c.type;
  e.bounce_sub_type = c.sub_type;
  if (!recipient.empty()) e.details.push_back({recipient, entry->status, e.smtp_response});
  return e;
}

}  // namespace

events::event reputation_event(const policy::reputation_change& c, base::time_point now, std::string id) {
  events::event e;
  e.id = std::move(id);
  e.type = "reputation";
  e.time = now;
  e.account = c.account.name;
  e.configuration_set = c.account.configuration_set;
  e.status = std::string(policy::to_string(c.verdict.status));
  e.reason = c.verdict.reason;
  e.smtp_response = c.reply;
  return e;
}

void report_reputation(std::span<const policy::reputation_change> changes, events::sink& sink, const base::clock& clock,
                       base::random_source& random) {
  for (auto& c : changes) {
    const auto status = policy::to_string(c.verdict.status);
    reputation_metric(status, c.verdict.metric).inc();
    inbound_log()->warn("account={} reputation {}: {}", c.account.name, status, c.verdict.reason);
    const auto now = clock.now();
    sink.emit(reputation_event(c, now, events::make_event_id(now, random)));
  }
}

void register_feedback_metrics() {
  for (auto kind : {"dsn", "arf", "text", "unknown"})
    for (auto result :
         {"recorded", "not_a_report", "no_return_path", "forged", "unknown_account", "not_a_failure"})
      reports_metric(kind, result);
  for (auto status : {"warning", "paused"})
    for (auto metric : {"bounce", "complaint"}) reputation_metric(status, metric);
}

feedback::feedback(store::stores stores, policy::reputation_monitor& reputation, events::sink& events,
                   const base::clock& clock, base::random_source& random, feedback_settings s)
    : stores_(std::move(stores)), reputation_(reputation), events_(events), clock_(clock), random_(random), s_(std::move(s)) {}

feedback_result feedback::process(std::span<const std::string> rcpts, std::string_view message) {
  feedback_result out;
  const auto r = inbound::parse_report(message);
  out.kind = r.kind;
  auto done = [&](const char* result) {
    out.result = result;
    reports_metric(inbound::to_string(out.kind), result).inc();
    return out;
  };
  inbound::return_path rp;
  const auto found = locate(s_, rcpts, r, rp);
  if (r.kind == inbound::report_kind::unknown) return done("not_a_report");
  if (found != inbound::verp_check::ok) return done(found == inbound::verp_check::forged ? "forged" : "no_return_path");
  out.queue_id = rp.queue_id;
  auto account = stores_.accounts->find_account(rp.account_id);
  if (!account) return done("unknown_account");
  out.account = account->name;
  out.recipient = find_recipient(s_.key, rp, r);
  auto e = report_event(r, out.recipient);
  if (!e) return done("not_a_failure");

  const auto now = clock_.now();
  e->id = events::make_event_id(now, random_);
  e->time = now;
  e->queue_id = rp.queue_id;
  e->account = account->name;
  e->configuration_set = account->configuration_set;
  e->mail.submitted = base::queue_id_time(rp.queue_id);
  e->mail.destination = e->recipients;
  const bool complaint = e->type == "complaint", hard = complaint || e->bounce_type == "Permanent";
  if (hard && !out.recipient.empty()) {
    const auto why = complaint ? "complaint: " + e->reason : "bounce: " + e->smtp_response;
    if (stores_.suppressions->add(base::to_lower(out.recipient), why, now))
      inbound_log()->info("suppressed {} after a returned {}", out.recipient, e->type);
  }
  events_.emit(*e);
  if (hard) {
    store::reputation_delta d{account->id, {policy::hour_of(now), 0, complaint ? 0u : 1u, complaint ? 1u : 0u}};
    report_reputation(reputation_.record(std::span(&d, 1)), events_, clock_, random_);
  }
  inbound_log()->info("inbound {} queue_id={} account={} rcpt=<{}> type={}", inbound::to_string(r.kind), rp.queue_id,
              account->name, out.recipient, e->type);
  return done("recorded");
}

}  // namespace smtpsd::queue
