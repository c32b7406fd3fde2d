// The return path's report parser (DSN, ARF, prose bounces) and VERP
// addresses: any bytes, never a crash, a hang or unbounded output.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "inbound/report.hpp"
#include "inbound/verp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = smtpsd::inbound::parse_report(in);
  if (r.addresses.size() > 100 || r.recipients.size() > 100) __builtin_trap();
  smtpsd::inbound::return_path rp;
  const std::string key(32, 'k');
  for (auto& a : r.addresses) {
    if (smtpsd::inbound::parse_return_path(key, "bounces.example.com", a, rp) == smtpsd::inbound::verp_check::ok)
      (void)smtpsd::inbound::recipient_matches(key, rp, a);
  }
  return 0;
}
