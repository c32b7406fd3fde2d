// DKIM relaxed canonicalisation: a body split anywhere canonicalises the same
// as in one piece; header canonicalisation of any field.
#include <cstdint>
#include <string>
#include <string_view>

#include "dkim/canon.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string whole, pieces;
  smtpsd::dkim::relaxed_body a([&](std::string_view s) { whole += s; });
  a.update(in);
  a.finish();
  smtpsd::dkim::relaxed_body b([&](std::string_view s) { pieces += s; });
  const std::size_t cut = size ? data[0] % (size + 1) : 0;
  b.update(in.substr(0, cut));
  b.update(in.substr(cut));
  b.finish();
  if (whole != pieces) __builtin_trap();
  auto colon = in.find(':');
  if (colon != std::string_view::npos) (void)smtpsd::dkim::relaxed_header(in.substr(0, colon), in.substr(colon + 1));
  return 0;
}
