#pragma once
// DNSSEC-validated lookups for DANE (RFC 7672), done by smtpsd itself with
// libunbound: the `[delivery] resolvers` are its upstreams (forwarders; none
// = /etc/resolv.conf's), `[delivery] dnssec_trust_anchor` its trust anchor.
// Validating in-process, rather than trusting the AD bit of a resolver as
// Postfix does, means no validating resolver has to run next to smtpsd and
// the path from that resolver cannot be spoofed. Calls block (unbound waits
// for the network): run them on the worker pool. Thread-safe.
//
// When validation cannot even start (the upstreams do not serve DNSSEC, so
// the trust anchor's own DNSKEY does not validate), every answer would be
// bogus and no mail would leave. smtpsd then treats answers as insecure
// (opportunistic TLS, as without DANE), logs it once a minute and counts it
// in smtpsd_dnssec_unavailable_total. A bogus answer under a working anchor
// stays bogus: that is an attack or a broken zone, and delivery defers.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.hpp"
#include "net/tls.hpp"

struct ub_ctx;

namespace smtpsd::delivery {

enum class dnssec { secure, insecure, bogus, failed };  // failed: no answer (timeout, SERVFAIL)
std::string_view to_string(dnssec d);

struct tlsa_answer {
  dnssec security = dnssec::insecure;
  std::vector<net::tlsa_record> records;  // every record found (usable or not)
  std::string why;                        // for bogus/failed
};

class dnssec_resolver {
 public:
  // Throws std::runtime_error naming the trust-anchor file when it cannot be read.
  dnssec_resolver(const std::vector<base::host_port>& upstreams, const std::string& trust_anchor_file);
  ~dnssec_resolver();
  dnssec_resolver(const dnssec_resolver&) = delete;

  // The security of a name's RRset of `type` (or of its proven absence).
  dnssec security(const std::string& name, int type, std::string* why = nullptr) const;
  // The TLSA records of _PORT._tcp.HOST.
  tlsa_answer tlsa(const std::string& host, std::uint16_t port) const;
  // Whether the trust anchor validates through the upstreams (cached 60 s).
  bool validating() const;

 private:
  struct answer;
  answer query(const std::string& name, int type) const;
  dnssec judge(const answer& a, std::string* why) const;

  ub_ctx* ctx_ = nullptr;
  std::vector<std::string> anchors_;  // owner names of the trust anchor's records
  mutable std::mutex mu_;
  mutable std::chrono::steady_clock::time_point checked_{};
  mutable bool validating_ = true;
  mutable std::chrono::steady_clock::time_point warned_{};
};

}  // namespace smtpsd::delivery
