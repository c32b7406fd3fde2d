#pragma once
// Opens a connection to a next hop, trying its hosts in order (Postfix's
// smtp_connect): TCP, implicit TLS for a smarthost that wants it, the
// greeting and EHLO, STARTTLS as the host's TLS plan says (tls_policy.hpp:
// opportunistic, where a STARTTLS that is offered and fails is never
// followed by plaintext on that host; or required, where a host without
// STARTTLS or whose certificate does not verify is left before MAIL; a
// smarthost's certificate is always verified), and
// AUTH for a smarthost with credentials, only ever under TLS. Returns a
// client ready for MAIL, or the outcome for the recipients.
#include <memory>
#include <optional>
#include <string>

#include "delivery/next_hop.hpp"
#include "delivery/outcome.hpp"
#include "delivery/resolver.hpp"
#include "delivery/smtp_client.hpp"
#include "delivery/tls_policy.hpp"

namespace smtpsd::delivery {

struct smarthost_credentials {
  bool implicit_tls = false;
  std::string username;  // empty: no AUTH
  std::string password;
  std::string ca_file;  // verify against this CA instead of the system's
};

struct connector_settings {
  std::string hostname;  // our EHLO name
  timeouts limits;
  std::optional<smarthost_credentials> smarthost;
  tls_report_book* reports = nullptr;  // TLS-RPT counts of policy sessions (owned by the deliverer)
};

struct connection {
  std::unique_ptr<smtp_client> client;  // null when no host could be used
  outcome failure;                      // why, for every recipient
};

class connector {
 public:
  explicit connector(connector_settings s);
  // `plan`: the TLS each host gets (tls_policies::plan); hosts it skips are not tried.
  net::awaitable<connection> open(const next_hop& hop, const resolution& where, const tls_plan& plan);

 private:
  // One host: a client, or why not (`problem`), or an outcome that ends the
  // attempt for every host (`stop`: the smarthost refused us).
  struct host_attempt {
    std::unique_ptr<smtp_client> client;
    std::string problem;
    std::optional<outcome> stop;
    std::string tls_status;   // the problem is the policy's TLS: "4.7.4" or "4.7.5"
    std::string tls_failure;  // its TLS-RPT result type (also for a testing policy that delivered)
    std::string ip;           // the address connected to
    tls_outcome tls;
  };
  net::awaitable<host_attempt> open_host(const next_hop& hop, const mx_host& host, const host_tls& want,
                                         const std::string& policy);
  net::awaitable<std::string> greet(smtp_client& c);
  net::awaitable<std::string> secure(smtp_client& c, const next_hop& hop, const host_tls& want, host_attempt& a);
  net::awaitable<std::optional<outcome>> authenticate(smtp_client& c, const std::string& host);
  // TLS-RPT: one session (or skipped host) under the plan's policy.
  void count(const tls_plan& plan, const host_tls& want, const std::string& host, const host_attempt* a);

  connector_settings s_;
  std::shared_ptr<net::ssl::context> opportunistic_tls_;
  std::shared_ptr<net::ssl::context> smarthost_tls_;
  std::shared_ptr<net::ssl::context> checked_tls_;  // system CAs and DANE, checked after the handshake
};

}  // namespace smtpsd::delivery
