#include "base/random.hpp"

#include <sodium.h>

#include "base/clock.hpp"

namespace smtpsd::base {

std::uint64_t random_source::uniform(std::uint64_t bound) {
  if (bound <= 1) return 0;
  // Rejection sampling avoids modulo bias.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  std::uint64_t v;
  do v = next_u64();
  while (v >= limit);
  return v % bound;
}

std::uint64_t system_random::next_u64() {
  std::uint64_t v;
  randombytes_buf(&v, sizeof v);
  return v;
}

random_source& real_random() {
  static system_random r;
  return r;
}

std::string random_bytes(std::size_t n) {
  std::string s(n, '\0');
  randombytes_buf(s.data(), n);
  return s;
}

const clock& real_clock() {
  static system_clock c;
  return c;
}

}  // namespace smtpsd::base
