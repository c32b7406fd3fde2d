#include "base/keyed_hash.hpp"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t by value
#include <sodium.h>
#include <xxhash.h>

#include <algorithm>
#include <iterator>

namespace smtpsd::base {

namespace {

constexpr std::size_t secret_size = 192;
static_assert(secret_size >= XXH3_SECRET_SIZE_MIN);

// The process's secret: XXH3 mixes every input octet with it.
const unsigned char* secret() {
  static const auto s = [] {
    std::array<unsigned char, secret_size> v{};
    randombytes_buf(v.data(), v.size());
    return v;
  }();
  return s.data();
}

}  // namespace

struct keyed_hash::state {
  XXH3_state_t xxh;  // 64-octet aligned: operator new honours its alignas
};

keyed_hash::keyed_hash() : s_(std::make_unique<state>()) {
  XXH3_INITSTATE(&s_->xxh);
  XXH3_128bits_reset_withSecret(&s_->xxh, secret(), secret_size);
}

keyed_hash::~keyed_hash() = default;

void keyed_hash::update(std::string_view data) { XXH3_128bits_update(&s_->xxh, data.data(), data.size()); }

keyed_hash::digest keyed_hash::finish() {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&s_->xxh));
  XXH3_128bits_reset_withSecret(&s_->xxh, secret(), secret_size);
  digest d;
  static_assert(sizeof c.digest == sizeof d);
  std::copy(std::begin(c.digest), std::end(c.digest), d.begin());
  return d;
}

}  // namespace smtpsd::base
