// MTA-STS policy files and TXT records (RFC 8461), TLS-RPT records (RFC
// 8460): whatever a receiving domain's web server or DNS hands us.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/mta_sts.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  using namespace smtpsd::delivery;
  if (auto p = parse_sts_policy(in)) {
    (void)sts_mx_matches(*p, "mx.example.com");
    (void)sts_mx_matches(*p, in.substr(0, 64));
  }
  // The same bytes as TXT records, split at NUL.
  std::vector<std::string> txt;
  std::string_view rest = in;
  while (!rest.empty() && txt.size() < 16) {
    auto z = rest.find('\0');
    txt.emplace_back(rest.substr(0, z));
    rest = z == std::string_view::npos ? std::string_view{} : rest.substr(z + 1);
  }
  (void)sts_record_id(txt);
  (void)tlsrpt_rua(txt);
  return 0;
}
