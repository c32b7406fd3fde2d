#include "delivery/outcome.hpp"

#include <fmt/format.h>

#include "message/dsn.hpp"

namespace smtpsd::delivery {

namespace {

outcome local(outcome_kind k, std::string status, std::string_view text, std::string mta = {}) {
  outcome o;
  o.kind = k;
  const int code = k == outcome_kind::failed ? 550 : 451;
  o.response = fmt::format("{} {} {}", code, status, text);
  o.status = std::move(status);
  o.remote_mta = std::move(mta);
  return o;
}

}  // namespace

std::string_view to_string(outcome_kind k) {
  switch (k) {
    case outcome_kind::delivered: return "delivered";
    case outcome_kind::deferred: return "deferred";
    case outcome_kind::failed: return "failed";
  }
  return "?";
}

bool outcome::hard_bounce() const { return kind == outcome_kind::failed && remote && message::hard_bounce(status); }

outcome from_reply(const response& r, const std::string& mta) {
  outcome o;
  o.response = r.summary();
  o.remote_mta = mta;
  o.remote = !r.io_error;
  o.status = r.io_error ? "4.4.2" : message::status_of(r.reply.code, r.reply.enhanced);
  if (r.io_error || r.reply.transient())
    o.kind = outcome_kind::deferred;
  else if (r.reply.positive())
    o.kind = outcome_kind::delivered;
  else
    o.kind = outcome_kind::failed;
  return o;
}

response connection_lost(const std::string& mta, std::string_view during) {
  auto text = during.empty() ? fmt::format("connection to {} lost", mta) : fmt::format("connection to {} lost {}", mta, during);
  return response{smtp::make_reply(421, "4.4.2", text), true};
}

outcome not_attempted_stopping() {
  auto o = local(outcome_kind::deferred, "4.3.2", "not attempted: smtpsd is stopping");
  o.attempted = false;
  return o;
}

outcome dns_failure(const resolution& r) {
  return local(r.permanent ? outcome_kind::failed : outcome_kind::deferred, r.status, r.error);
}

outcome no_host_answered(std::string why) {
  if (why.size() > 900) why.resize(900);
  return local(outcome_kind::deferred, "4.4.1", "no mail host answered: " + why);
}

outcome tls_policy_failed(std::string why, const std::string& status) {
  if (why.size() > 900) why.resize(900);
  return local(outcome_kind::deferred, status, "TLS required by policy: " + why);
}

outcome requiretls_unverifiable(const std::string& destination, const std::string& why) {
  return local(outcome_kind::failed, "5.7.10",
               "REQUIRETLS: no verified TLS is possible to " + destination + " (" + why + ")");
}

outcome requiretls_unsupported(const std::string& mta) {
  return local(outcome_kind::failed, "5.7.30", "REQUIRETLS support required: " + mta + " does not offer it", mta);
}

outcome smtputf8_unsupported(const std::string& mta) {
  return local(outcome_kind::failed, "5.6.7", "the message needs SMTPUTF8 and " + mta + " does not support it", mta);
}

outcome too_big(const std::string& mta, std::uint64_t size, std::uint64_t limit) {
  return local(outcome_kind::failed, "5.3.4", fmt::format("message of {} octets exceeds {}'s limit of {}", size, mta, limit),
               mta);
}

outcome smarthost_without_tls(const std::string& host) {
  return local(outcome_kind::deferred, "4.7.10",
               "smarthost " + host + " offers no TLS; credentials are never sent in the clear", host);
}

outcome smarthost_refused_auth(const std::string& host, const response& r) {
  return local(outcome_kind::deferred, "4.7.8", "smarthost refused AUTH: " + r.summary(), host);
}

outcome body_unreadable(const std::string& why) {
  return local(outcome_kind::deferred, "4.3.0", "local error reading the message: " + why);
}

outcome expired(const outcome& last) {
  outcome o = last;
  o.kind = outcome_kind::failed;
  o.status = "4.4.7";
  o.response = "451 4.4.7 Delivery time expired; last attempt: " + last.response;
  o.remote = false;
  return o;
}

}  // namespace smtpsd::delivery
