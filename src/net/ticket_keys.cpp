#include "net/ticket_keys.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace smtpsd::net {

ticket_keys::ticket_keys(std::chrono::seconds period, clock_fn now)
    : period_(period), now_(std::move(now)), current_(fresh()), since_(now_()) {}

ticket_keys::key ticket_keys::fresh() const {
  key k;
  if (RAND_bytes(k.name.data(), k.name.size()) != 1 || RAND_bytes(k.aes.data(), k.aes.size()) != 1 ||
      RAND_bytes(k.hmac.data(), k.hmac.size()) != 1)
    throw std::runtime_error("tls: no random bytes for a ticket key");
  return k;
}

void ticket_keys::rotate_if_due() {
  const auto t = now_();
  if (t - since_ < period_) return;
  // More than two periods idle: the current key is too old to keep at all.
  if (t - since_ >= 2 * period_) {
    has_previous_ = false;
  } else {
    previous_ = current_;
    has_previous_ = true;
  }
  current_ = fresh();
  since_ = t;
}

ticket_keys::key ticket_keys::current() {
  std::lock_guard l(mu_);
  rotate_if_due();
  return current_;
}

std::optional<std::pair<ticket_keys::key, bool>> ticket_keys::find(const std::uint8_t* name) {
  std::lock_guard l(mu_);
  rotate_if_due();
  if (std::equal(current_.name.begin(), current_.name.end(), name)) return std::pair{current_, false};
  if (has_previous_ && std::equal(previous_.name.begin(), previous_.name.end(), name)) return std::pair{previous_, true};
  return std::nullopt;
}

ticket_keys& ticket_keys::process() {
  static ticket_keys keys(std::chrono::hours(12));
  return keys;
}

}  // namespace smtpsd::net
