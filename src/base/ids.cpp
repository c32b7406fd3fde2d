#include "base/ids.hpp"

namespace smtpsd::base {

namespace {
constexpr char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
}

std::string make_queue_id(time_point t, std::uint32_t random) {
  auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  // 80 bits, 48 of time above 32 of randomness, read out 5 bits at a time.
  std::uint64_t hi = ms & 0xFFFFFFFFFFFFull;
  std::uint64_t lo = random;
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = alphabet[lo & 31];
    lo = (lo >> 5) | ((hi & 31) << 27);
    hi >>= 5;
  }
  return out;
}

bool is_queue_id(std::string_view s) {
  if (s.size() != 16) return false;
  for (char c : s) {
    bool ok = false;
    for (const char* a = alphabet; *a; ++a) ok |= (*a == c);
    if (!ok) return false;
  }
  return true;
}

}  // namespace smtpsd::base
