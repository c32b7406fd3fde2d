#pragma once
// What became of one recipient's delivery attempt, and the one place that
// says which failures are temporary (deferred: retried with back-off) and
// which are permanent (failed: a DSN, and for a hard bounce the suppression
// list). Postfix keeps the same rules in smtp_trouble.c; a reader who wants
// the retry policy reads this file and queue/schedule.hpp.
//
//   remote 2xx                                  delivered
//   remote 4xx, a lost connection, a timeout    deferred (4.4.2 when nothing usable came back)
//   remote 5xx                                  failed
//   DNS: NXDOMAIN, null MX (RFC 7505)           failed  (5.1.2, 5.1.10)
//   DNS: timeout, SERVFAIL                      deferred (4.4.3)
//   no MX host answered or greeted             deferred (4.4.1)
//   STARTTLS offered and failed                 deferred: never a fallback to plaintext on that host
//   TLS required (DANE, MTA-STS enforce, a route's "verify") and not offered
//                                               deferred (4.7.4), nothing sent in plaintext
//   required certificate check failed           deferred (4.7.5), closed before MAIL
//   DNSSEC bogus MX answer                      deferred (4.7.5)
//   SMTPUTF8 needed and not offered             failed  (5.6.7, RFC 6531 §3.4)
//   REQUIRETLS and no verified TLS possible     failed  (5.7.10, RFC 8689 §5: no DANE or MTA-STS for the domain)
//   REQUIRETLS and the server does not offer it failed  (5.7.30, RFC 8689 §6)
//   larger than the remote's SIZE               failed  (5.3.4)
//   smarthost without TLS, or refusing AUTH     deferred (4.7.10, 4.7.8): an operator fixes it
//   our spool cannot be read mid-message        deferred (4.3.0), the connection dropped
//   smtpsd stopping before the attempt          not attempted: nothing is recorded
//   deferred for longer than max_queue_age_s    failed with 4.4.7 (expired())
#include <string>
#include <string_view>

#include "delivery/resolver.hpp"
#include "delivery/smtp_client.hpp"

namespace smtpsd::delivery {

enum class outcome_kind { delivered, deferred, failed };

// How the connection was secured, for the events (`tls`) and TLS-RPT.
struct tls_outcome {
  std::string version;  // "TLSv1.3"; "" = plaintext
  std::string cipher;
  std::string policy;   // "dane", "mta-sts", "opportunistic", "route", "smarthost"
  bool verified = false;
};
std::string_view to_string(outcome_kind k);

struct outcome {
  outcome_kind kind = outcome_kind::deferred;
  std::string response;    // "250 2.0.0 Ok", the remote's reply or our reason
  std::string status;      // enhanced status: "2.0.0", "5.1.1", "4.4.1"
  std::string remote_mta;  // the host that answered, or empty
  std::string remote_ip;   // its address, when it answered
  bool remote = false;     // the response is the remote server's, not ours
  bool attempted = true;   // false: stopped before trying; nothing to record
  tls_outcome tls;         // of the connection that gave `response`

  bool permanent() const { return kind == outcome_kind::failed; }
  // A permanent failure the remote gave for the mailbox itself (5.1.x,
  // 5.2.x): the address goes on the suppression list.
  bool hard_bounce() const;
};

// A reply from the remote server, or the synthetic 4xx of a dead connection.
outcome from_reply(const response& r, const std::string& mta);
// The remote's reply ended every recipient still open (a lost connection
// mid-transaction, the reply to the data).
response connection_lost(const std::string& mta, std::string_view during = {});

// Our own reasons, each with its kind and enhanced status.
outcome not_attempted_stopping();
outcome dns_failure(const resolution& r);
outcome no_host_answered(std::string why);
// Every host failed the TLS the policy requires (status 4.7.4 or 4.7.5).
outcome tls_policy_failed(std::string why, const std::string& status);
outcome smtputf8_unsupported(const std::string& mta);
outcome requiretls_unverifiable(const std::string& destination, const std::string& why);
outcome requiretls_unsupported(const std::string& mta);
outcome too_big(const std::string& mta, std::uint64_t size, std::uint64_t limit);
outcome smarthost_without_tls(const std::string& host);
outcome smarthost_refused_auth(const std::string& host, const response& r);
outcome body_unreadable(const std::string& why);

// The last temporary failure of a recipient whose time in the queue is up:
// permanent now, status 4.4.7 (as Postfix reports it), a reply whose code and
// enhanced code agree, and the last attempt's reason kept.
outcome expired(const outcome& last);

}  // namespace smtpsd::delivery
