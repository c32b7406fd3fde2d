#include "base/ids.hpp"

#include <array>

namespace smtpsd::base {

namespace {
constexpr char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// Which octets the alphabet holds: one lookup each (the spool checks every id it creates).
constexpr std::array<bool, 256> in_alphabet = [] {
  std::array<bool, 256> t{};
  for (const char* a = alphabet; *a; ++a) t[static_cast<unsigned char>(*a)] = true;
  return t;
}();
}  // namespace

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
  for (char c : s)
    if (!in_alphabet[static_cast<unsigned char>(c)]) return false;
  return true;
}

time_point queue_id_time(std::string_view s) {
  // The first 10 characters carry 50 bits: the 48 of time and the top 2 of randomness.
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 10 && i < s.size(); ++i) {
    const char* at = std::char_traits<char>::find(alphabet, 32, s[i]);
    v = (v << 5) | static_cast<std::uint64_t>(at ? at - alphabet : 0);
  }
  return time_point(std::chrono::milliseconds(static_cast<std::int64_t>(v >> 2)));
}

}  // namespace smtpsd::base
