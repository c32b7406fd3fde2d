#pragma once
// Where mail for a domain goes (RFC 5321 §5.1): its MX hosts in preference
// order, shuffled among equal preferences, each with its IPv6 and IPv4
// addresses; the domain itself when it has no MX; nowhere when it publishes
// a null MX (RFC 7505). c-ares does the DNS work. Calls block (bounded by the
// timeouts): run them on the worker pool.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.hpp"
#include "net/asio.hpp"

namespace smtpsd::delivery {

struct mx_host {
  std::string name;
  unsigned preference = 0;
  std::vector<net::tcp::endpoint> addresses;
};

struct resolution {
  std::vector<mx_host> hosts;  // in the order to try
  std::string error;           // set when hosts is empty
  bool permanent = false;      // the error will not go away by retrying (NXDOMAIN, null MX)
  std::string status;          // enhanced status for the error ("5.1.2", "4.4.3", "5.1.10")
  bool ok() const { return !hosts.empty(); }
};

class resolver {
 public:
  // servers: "ip:port" DNS servers; empty = the system's (/etc/resolv.conf).
  explicit resolver(std::vector<base::host_port> servers,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(3000), int tries = 2);

  resolution mx(const std::string& domain, std::uint16_t port) const;
  // A/AAAA of a name (an IP literal is used as it is).
  resolution host(const std::string& name, std::uint16_t port) const;
  // TXT records of a name, each with its strings joined; empty when there are
  // none; nullopt when the lookup failed (timeout, SERVFAIL).
  std::optional<std::vector<std::string>> txt(const std::string& name) const;

 private:
  std::string servers_csv_;
  std::chrono::milliseconds timeout_;
  int tries_;
};

}  // namespace smtpsd::delivery
