// The SCRAM server's parsing of both client messages: any bytes are refused
// with a reason or accepted, never a crash; a made-up proof never passes.
// And the stored form of the secrets: what parses is written back unchanged.
#include <cstdint>
#include <string_view>

#include "sasl/scram.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto stored = smtpsd::sasl::parse_scram_secrets(in)) {
    auto again = smtpsd::sasl::parse_scram_secrets(smtpsd::sasl::format_scram_secrets(*stored));
    if (!again || again->salt != stored->salt || again->stored_key != stored->stored_key ||
        again->server_key != stored->server_key || again->iterations != stored->iterations)
      __builtin_trap();
  }
  const auto cut = in.find('\n');
  const auto first = in.substr(0, cut);
  const auto final_msg = cut == std::string_view::npos ? std::string_view{} : in.substr(cut + 1);
  static const auto secrets = smtpsd::sasl::make_scram_secrets("pencil", "salt", 4096);
  for (bool plus : {false, true}) {
    smtpsd::sasl::scram_server s(plus, plus ? std::string(32, 'x') : std::string{}, plus);
    if (!s.client_first(first).ok) continue;
    s.server_first(secrets, "N");
    if (s.client_final(final_msg).ok) __builtin_trap();
  }
  return 0;
}
