#include "events/signature.hpp"

#include <sodium.h>

#include <fmt/format.h>

namespace smtpsd::events {

std::string hmac_sha256_hex(std::string_view key, std::string_view text) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return hex;
}

std::string signature_header(std::string_view secret, std::int64_t unix_seconds, std::string_view body) {
  const auto t = std::to_string(unix_seconds);
  std::string signed_text;
  signed_text.reserve(t.size() + 1 + body.size());
  signed_text.append(t).append(".").append(body);
  return fmt::format("t={},v1={}", t, hmac_sha256_hex(secret, signed_text));
}

}  // namespace smtpsd::events
