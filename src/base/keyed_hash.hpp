#pragma once
// A fast 128-bit digest keyed with a secret made at start-up (XXH3-128 of
// libxxhash, with 192 random octets as its secret), fed in pieces. For keys
// of in-memory tables that senders should not be able to aim at (the
// duplicate guard's): not a cryptographic hash, so never for anything that
// leaves the process or must resist a forger who sees the digests. About
// ten times SHA-256's speed here (0.3 against 3.4 us for a 4 KiB message).
#include <array>
#include <memory>
#include <string_view>

namespace smtpsd::base {

class keyed_hash {
 public:
  using digest = std::array<unsigned char, 16>;
  keyed_hash();  // throws std::bad_alloc
  ~keyed_hash();
  keyed_hash(const keyed_hash&) = delete;
  keyed_hash& operator=(const keyed_hash&) = delete;
  void update(std::string_view data);
  void update(const digest& d) { update(std::string_view(reinterpret_cast<const char*>(d.data()), d.size())); }
  digest finish();  // and starts again, empty

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace smtpsd::base
