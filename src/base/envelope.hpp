#pragma once
// The typed ESMTP parameters a message keeps from submission to the wire:
// BODY (RFC 6152, 3030), RET and NOTIFY (RFC 3461). They live in base because
// both the pure protocol layer (smtp/) and the stores use them and neither
// may include the other; their text forms are written once, in smtp/params.
#include <cstdint>

namespace smtpsd::base {

enum class body_type : std::uint8_t { unspecified, seven_bit, eight_bit_mime, binary_mime };
enum class dsn_ret : std::uint8_t { unspecified, full, hdrs };
// What the sender asked of the TLS on the way out (RFC 8689): nothing (the
// recipient domain's policy applies), REQUIRETLS on MAIL (verified TLS to a
// server that supports REQUIRETLS, or a bounce), or `TLS-Required: No`
// (recipient policies ignored: STARTTLS when offered, no checks). Stored.
enum class tls_demand : std::uint8_t { policy = 0, required = 1, not_required = 2 };

// NOTIFY= of one recipient: a set of conditions; empty when not given, which
// RFC 3461 §4.1 reads as FAILURE,DELAY.
class dsn_notify {
 public:
  enum bit : unsigned { never = 1, success = 2, failure = 4, delay = 8 };

  constexpr dsn_notify() = default;
  constexpr explicit dsn_notify(unsigned bits) : bits_(bits & 15u) {}
  constexpr unsigned bits() const { return bits_; }
  constexpr bool given() const { return bits_ != 0; }
  constexpr bool has(bit b) const { return (bits_ & b) != 0; }
  // Whether a DSN is due for this condition (the default when not given).
  constexpr bool wants(bit b) const { return given() ? has(b) : (b == failure || b == delay); }
  constexpr bool operator==(const dsn_notify&) const = default;

 private:
  unsigned bits_ = 0;
};

}  // namespace smtpsd::base
