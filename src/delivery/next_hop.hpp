#pragma once
// Where mail for a recipient domain goes next (RFC 5321 §5.1), decided once
// per job and carried with it: the smarthost when one is set, else a route
// for the domain (or the "*" route), else an address literal's own address,
// else the domain's MX hosts. Pure: no DNS here; the connector looks the
// name up. Recipients whose next hops share a key share a transaction.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/ip.hpp"

namespace smtpsd::delivery {

struct next_hop {
  enum class kind { mx, host, smarthost };
  std::string key;  // what connection limits and reuse are counted by: "mx:a-label", "route:h:p", "literal:ip", "smarthost"
  kind how = kind::mx;  // mx: look up MX records of `name`; host/smarthost: the address of `name`
  std::string name;
  std::uint16_t port = 25;
  // A route's own TLS rule: "none" (never STARTTLS), "may" (opportunistic),
  // "verify" (TLS with a certificate verified for `name`); "" = the default:
  // the recipient domain's policy for MX hops (tls_policy), "may" otherwise.
  std::string tls;
  bool smarthost() const { return how == kind::smarthost; }
};

struct route_settings {
  std::uint16_t mx_port = 25;
  std::map<std::string, base::host_port> routes;  // domain (either IDN form, any case) or "*"
  std::map<std::string, std::string> route_tls;    // the same keys: "none", "may" or "verify" where set
  std::optional<base::host_port> smarthost;
};

class router {
 public:
  explicit router(route_settings s);
  next_hop route(std::string_view domain) const;

 private:
  route_settings s_;  // routes keyed by A-labels, lower case
};

// The domain of an address, lower case ("" when it has none).
std::string domain_of(std::string_view address);

}  // namespace smtpsd::delivery
