#include "service/tokens.hpp"

#include <sodium.h>

#include "base/base64.hpp"
#include "base/random.hpp"
#include "base/time_format.hpp"

namespace smtpsd::service {

std::string token_hash(const std::string& token) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  char hex[sizeof h * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return hex;
}

json add_token(env& e, const std::string& name, bool read_only) {
  if (name.empty() || name.size() > 64 || name.find_first_of(" \t\r\n/") != std::string::npos)
    invalid("token names are 1 to 64 characters without spaces or '/'");
  // 32 random bytes, base64url without padding, with a prefix that says what it is.
  auto b64 = base::base64_encode(base::random_bytes(32));
  for (auto& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  const auto token = "smtpsd_" + b64;
  store::api_token t{name, token_hash(token), read_only, base::from_unix_seconds(base::unix_seconds(e.clock.now()))};
  if (!e.stores.accounts->create_token(t)) conflict("a token named \"" + name + "\" already exists");
  return {{"name", name}, {"token", token}, {"read_only", read_only}, {"created", base::rfc3339(t.created)}};
}

json list_tokens(env& e) {
  auto out = json::array();
  for (auto& t : e.stores.accounts->list_tokens())
    out.push_back({{"name", t.name}, {"read_only", t.read_only}, {"created", base::rfc3339(t.created)}});
  return out;
}

json revoke_token(env& e, const std::string& name) {
  if (!e.stores.accounts->revoke_token(name)) not_found("no token named \"" + name + "\"");
  return {{"revoked", name}};
}

std::optional<store::api_token> check_token(env& e, const std::string& token) {
  if (token.empty() || token.size() > 256) return std::nullopt;
  return e.stores.accounts->find_token(token_hash(token));
}

}  // namespace smtpsd::service
