#pragma once
// What TLS a next hop gets (SPEC §4; docs/delivery.md, "Outbound TLS"):
//
//   smarthost                 TLS verified against its CA (connector)
//   route with tls = …        "none": no STARTTLS; "may": opportunistic;
//                             "verify": TLS with a certificate verified for the route's host
//   MX, tls_policy = "opportunistic", routes and address literals
//                             STARTTLS when offered, certificate not checked
//   MX, tls_policy = "dane-mta-sts"
//     DANE (RFC 7672)         MX RRset secure, the host's address secure and
//                             its TLSA records secure: usable DANE-TA/DANE-EE
//                             records make TLS and a match mandatory; only
//                             unusable ones make TLS mandatory; a bogus MX
//                             defers the hop, a bogus TLSA answer skips the host
//     else MTA-STS (RFC 8461) `enforce`: only MX hosts matching the policy,
//                             TLS with a certificate verified for the host
//                             name; `testing`: the same checks, failures
//                             reported and delivered anyway
//     else                    opportunistic
//
// DANE wins where both exist (RFC 8461 §2). MTA-STS policies are fetched
// over HTTPS (system CAs, SSL_CERT_FILE honoured), kept by `id` and
// `max_age` in DATA_DIR/mta-sts.json (so they survive a restart), and
// fetched again in the background when a day old or when the TXT id changes.
// Every result is counted for TLS-RPT by tls_report.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.hpp"
#include "delivery/dnssec.hpp"
#include "delivery/mta_sts.hpp"
#include "delivery/next_hop.hpp"
#include "delivery/resolver.hpp"
#include "delivery/tls_report.hpp"
#include "net/tls.hpp"
#include "net/worker_pool.hpp"

namespace smtpsd::delivery {

struct host_tls {
  enum class need { none, may, encrypt, verify };  // none: never STARTTLS; encrypt: TLS, any certificate
  need level = need::may;
  net::peer_check check;     // the name or TLSA records to verify against
  bool dane() const { return !check.tlsa.empty(); }  // TLSA records are what verifies
  bool report_only = false;  // MTA-STS testing: verify and count, deliver anyway
  std::string skip;          // why this host is not used at all ("" = use it)
  std::string skip_type;     // the TLS-RPT result type of `skip`, when the policy is why
};

struct tls_plan {
  std::string policy = "opportunistic";  // "dane", "mta-sts", "opportunistic", "route", "smarthost"
  std::string policy_domain;             // the recipient domain a policy came from
  std::vector<host_tls> hosts;           // one per resolution host, in order
  std::string defer;                     // the hop waits (a bogus MX answer): why
  std::string failure_type;              // TLS-RPT result type of `defer`
  tlsrpt_policy report;                  // what TLS-RPT counts the sessions under (type "" = not counted)
};

struct tls_policy_settings {
  bool enforce_policies = true;  // tls_policy = "dane-mta-sts"
  std::vector<base::host_port> resolvers;
  std::string trust_anchor = "/usr/share/dns/root.key";
  std::uint16_t sts_port = 443;
  std::filesystem::path sts_cache;  // "" = in memory only
};

// A TLSA record as a zone file writes it: "3 1 1 ab12…".
std::string presentation(const net::tlsa_record& r);

// The sender's wishes (RFC 8689) applied to a plan. `TLS-Required: No`:
// the recipient domain's DANE or MTA-STS policy is set aside (STARTTLS when
// offered, nothing checked); routes and the smarthost keep their own rules.
void ignore_recipient_policy(tls_plan& p);
// REQUIRETLS: only hosts that will be verified stay (DANE matches, MTA-STS
// names, testing mode checked as if enforced, a route's "verify", the
// smarthost). Empty when none is left: why no verified TLS is possible.
std::string require_verified(tls_plan& p);

class tls_policies {
 public:
  // Throws when the trust anchor cannot be read (an operator's error, at start).
  tls_policies(net::worker_pool& pool, const resolver& dns, tls_policy_settings s);
  ~tls_policies();

  // The plan for a new connection to `hop`, whose hosts are `where`. Runs on
  // the deliverer's io_context thread; lookups go to the worker pool.
  net::awaitable<tls_plan> plan(const next_hop& hop, const resolution& where);

  // The domain's MTA-STS policy (cached, else fetched); nullopt = none. `why`
  // says what went wrong when a policy was announced but not usable.
  net::awaitable<std::optional<sts_policy>> sts(const std::string& domain, std::string* why = nullptr);

  const dnssec_resolver* validator() const { return dnssec_.get(); }

 private:
  struct cached_sts {
    sts_policy policy;
    std::int64_t fetched = 0;  // unix seconds
  };
  net::awaitable<void> dane(const std::string& domain, const next_hop& hop, const resolution& where, tls_plan& p);
  net::awaitable<std::optional<sts_policy>> fetch(const std::string& domain, const std::string& id,
                                                  std::string& why);
  net::awaitable<void> refresh(std::string domain, std::string id);  // by value: it outlives its caller
  void load_cache();
  net::awaitable<void> save_cache();

  net::worker_pool& pool_;
  const resolver& dns_;
  tls_policy_settings s_;
  std::unique_ptr<dnssec_resolver> dnssec_;
  std::shared_ptr<net::ssl::context> https_;
  std::map<std::string, cached_sts> sts_cache_;
  std::map<std::string, std::chrono::steady_clock::time_point> sts_failed_;  // no fetch again before
  std::map<std::string, bool> refreshing_;
};

}  // namespace smtpsd::delivery
