// SASL PLAIN and LOGIN payloads (base64 decoded by the caller), one mechanism
// per input, the input split into an initial response and further steps.
#include <cstdint>
#include <string_view>

#include "sasl/mechanism.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  auto m = smtpsd::sasl::make_mechanism((data[0] & 1) ? "PLAIN" : "LOGIN");
  if (!m) return 0;
  auto parts = in;
  auto cut = parts.find('\n');
  auto first = parts.substr(0, cut);
  auto r = m->start((data[0] & 2) ? std::optional<std::string_view>(first) : std::nullopt);
  for (int i = 0; i < 4 && cut != std::string_view::npos && r.k == smtpsd::sasl::step_result::kind::challenge; ++i) {
    parts = parts.substr(cut + 1);
    cut = parts.find('\n');
    r = m->step(parts.substr(0, cut));
  }
  return 0;
}
