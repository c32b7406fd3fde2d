#pragma once
// Injected randomness (libsodium's CSPRNG in production, drawn 32 words at a
// time per thread: see random.cpp).
#include <cstdint>
#include <string>

namespace smtpsd::base {

class random_source {
 public:
  virtual ~random_source() = default;
  virtual std::uint64_t next_u64() = 0;
  // uniform in [0, bound)
  std::uint64_t uniform(std::uint64_t bound);
};

class system_random final : public random_source {
 public:
  std::uint64_t next_u64() override;
};

random_source& real_random();

// Random bytes from the system CSPRNG.
std::string random_bytes(std::size_t n);

}  // namespace smtpsd::base
