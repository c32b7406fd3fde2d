#include "base/crc32c.hpp"

#include <cstring>

#include <boost/crc.hpp>

namespace smtpsd::base {

namespace {

std::uint32_t reflect(std::uint32_t v) {
  std::uint32_t r = 0;
  for (int i = 0; i < 32; ++i, v >>= 1) r = (r << 1) | (v & 1);
  return r;
}

std::uint32_t portable(std::uint32_t crc, std::string_view bytes) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> c;
  // Boost keeps its register unreflected and before the final XOR: resume
  // from a finished value by undoing both.
  c.reset(reflect(crc ^ 0xFFFFFFFFu));
  c.process_bytes(bytes.data(), bytes.size());
  return c.checksum();
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t hardware(std::uint32_t crc, std::string_view bytes) {
  std::uint64_t c = crc ^ 0xFFFFFFFFu;
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(*p));
  return c32 ^ 0xFFFFFFFFu;
}

bool has_sse42() {
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
}
#endif

}  // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view bytes) {
#if defined(__x86_64__)
  if (has_sse42()) return hardware(crc, bytes);
#endif
  return portable(crc, bytes);
}

namespace testing {
std::uint32_t crc32c_portable(std::uint32_t crc, std::string_view bytes) { return portable(crc, bytes); }
}  // namespace testing

}  // namespace smtpsd::base
