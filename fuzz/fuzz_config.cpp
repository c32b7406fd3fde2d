// The configuration loader: any text is a configuration or a config_error
// naming file, line and key; never a crash.
#include <cstdint>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    auto c = smtpsd::config::parse(in, "/nonexistent/fuzz/smtpsd.toml");
    (void)c;
  } catch (const smtpsd::config::config_error&) {
  }
  return 0;
}
