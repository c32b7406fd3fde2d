#pragma once
// MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) texts, parsed. Pure: no DNS, no
// HTTP; the fuzz target fuzz_mta_sts feeds it anything.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpsd::delivery {

// The `_mta-sts` TXT records of a domain → the policy id, when exactly one
// record starts with "v=STSv1" and carries a valid id (RFC 8461 §3.1).
std::optional<std::string> sts_record_id(const std::vector<std::string>& txt);

struct sts_policy {
  enum class mode { enforce, testing, none };
  mode how = mode::none;
  std::vector<std::string> mx;  // patterns, lower case: "mx.example.com" or "*.example.net"
  std::uint64_t max_age = 0;    // seconds, at most 31557600
  std::string id;               // from the TXT record it was fetched for
};
std::string_view to_string(sts_policy::mode m);
std::optional<sts_policy::mode> sts_mode(std::string_view s);

// The policy file (RFC 8461 §3.2): "key: value" lines; version STSv1, a mode,
// max_age and, unless mode is none, at least one mx. nullopt with `why`.
std::optional<sts_policy> parse_sts_policy(std::string_view text, std::string* why = nullptr);
// Whether an MX host name matches one of the policy's patterns (§4.1: a
// wildcard stands for exactly one leftmost label).
bool sts_mx_matches(const sts_policy& p, std::string_view host);

// The `_smtp._tls` TXT records → the report addresses ("mailto:…", "https://…").
std::vector<std::string> tlsrpt_rua(const std::vector<std::string>& txt);

}  // namespace smtpsd::delivery
