#include "sasl/scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <stdexcept>

#include "base/base64.hpp"

namespace smtpsd::sasl {

namespace {

scram_key hmac(const scram_key& key, std::string_view data) {
  scram_key out{};
  unsigned len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out.data(), &len) ||
      len != out.size())
    throw std::runtime_error("HMAC-SHA-256 failed");
  return out;
}

scram_key sha256(const scram_key& in) {
  scram_key out{};
  SHA256(in.data(), in.size(), out.data());
  return out;
}

std::string_view as_text(const scram_key& k) { return {reinterpret_cast<const char*>(k.data()), k.size()}; }

// saslname (RFC 5802 §5.1): "=2C" is ',' and "=3D" is '='; any other '=' is an error.
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ',') return std::nullopt;
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    if (s.substr(i, 3) == "=2C")
      out += ',';
    else if (s.substr(i, 3) == "=3D")
      out += '=';
    else
      return std::nullopt;
    i += 2;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// "name=value" at the front of s, up to the next ','; advances s.
std::optional<std::string_view> attribute(std::string_view& s, char name) {
  if (s.size() < 2 || s[0] != name || s[1] != '=') return std::nullopt;
  const auto end = s.find(',');
  auto value = s.substr(2, end == std::string_view::npos ? std::string_view::npos : end - 2);
  s = end == std::string_view::npos ? std::string_view{} : s.substr(end + 1);
  return value;
}

}  // namespace

scram_secrets make_scram_secrets(std::string_view password, std::string_view salt, std::uint32_t iterations) {
  scram_secrets s;
  s.salt.assign(salt);
  s.iterations = iterations;
  scram_key salted{};
  if (!PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                         reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                         static_cast<int>(iterations), EVP_sha256(), static_cast<int>(salted.size()), salted.data()))
    throw std::runtime_error("PBKDF2-HMAC-SHA-256 failed");
  s.stored_key = sha256(hmac(salted, "Client Key"));
  s.server_key = hmac(salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  return s;
}

std::string format_scram_secrets(const scram_secrets& s) {
  return "SCRAM-SHA-256$" + std::to_string(s.iterations) + ":" + base::base64_encode(s.salt) + "$" +
         base::base64_encode(as_text(s.stored_key)) + ":" + base::base64_encode(as_text(s.server_key));
}

std::optional<scram_secrets> parse_scram_secrets(std::string_view text) {
  constexpr std::string_view prefix = "SCRAM-SHA-256$";
  if (text.substr(0, prefix.size()) != prefix) return std::nullopt;
  text.remove_prefix(prefix.size());
  const auto colon1 = text.find(':');
  const auto dollar = text.find('$');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || dollar < colon1) return std::nullopt;
  const auto colon2 = text.find(':', dollar);
  if (colon2 == std::string_view::npos) return std::nullopt;
  scram_secrets s;
  const auto iter = text.substr(0, colon1);
  if (iter.empty() || iter.size() > 9) return std::nullopt;
  for (char c : iter) {
    if (c < '0' || c > '9') return std::nullopt;
    s.iterations = s.iterations * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (s.iterations < scram_min_iterations) return std::nullopt;
  auto salt = base::base64_decode(text.substr(colon1 + 1, dollar - colon1 - 1));
  auto stored = base::base64_decode(text.substr(dollar + 1, colon2 - dollar - 1));
  auto server = base::base64_decode(text.substr(colon2 + 1));
  if (!salt || salt->empty() || !stored || stored->size() != s.stored_key.size() || !server ||
      server->size() != s.server_key.size())
    return std::nullopt;
  s.salt = std::move(*salt);
  std::copy(stored->begin(), stored->end(), s.stored_key.begin());
  std::copy(server->begin(), server->end(), s.server_key.begin());
  return s;
}

scram_server::scram_server(bool plus, std::string tls_exporter, bool plus_offered)
    : plus_(plus), exporter_(std::move(tls_exporter)), plus_offered_(plus_offered) {}

scram_server::result scram_server::client_first(std::string_view msg) {
  if (st_ != state::start) return {false, "unexpected client-first-message"};
  st_ = state::done;  // until it parses
  // gs2-header: cbind-flag "," [authzid] ","
  std::string_view rest = msg;
  std::string_view flag;
  if (rest.substr(0, 2) == "n," || rest.substr(0, 2) == "y,") {
    flag = rest.substr(0, 1);
    rest.remove_prefix(2);
  } else if (rest.substr(0, 2) == "p=") {
    const auto comma = rest.find(',');
    if (comma == std::string_view::npos) return {false, "malformed channel binding flag"};
    flag = rest.substr(0, comma);
    rest.remove_prefix(comma + 1);
  } else {
    return {false, "malformed channel binding flag"};
  }
  if (plus_) {
    if (flag != "p=tls-exporter") return {false, "SCRAM-SHA-256-PLUS needs channel binding tls-exporter"};
    if (exporter_.empty()) return {false, "no tls-exporter channel binding on this connection"};
  } else {
    if (flag.substr(0, 2) == "p=") return {false, "channel binding requested without the -PLUS mechanism"};
    if (flag == "y" && plus_offered_) return {false, "channel binding downgrade refused"};
  }
  // authzid: none, or (a=...) the same user: smtpsd has no proxy authorisation.
  std::string authzid;
  if (rest.substr(0, 2) == "a=") {
    auto a = attribute(rest, 'a');
    auto decoded = a ? decode_saslname(*a) : std::nullopt;
    if (!decoded) return {false, "malformed authzid"};
    authzid = *decoded;
  } else {
    if (rest.empty() || rest[0] != ',') return {false, "malformed gs2 header"};
    rest.remove_prefix(1);
  }
  gs2_header_.assign(msg.substr(0, msg.size() - rest.size()));
  client_first_bare_.assign(rest);
  if (rest.substr(0, 2) == "m=") return {false, "mandatory extensions are not supported"};
  auto n = attribute(rest, 'n');
  auto user = n ? decode_saslname(*n) : std::nullopt;
  if (!user) return {false, "malformed username"};
  auto r = attribute(rest, 'r');
  if (!r || r->empty()) return {false, "malformed nonce"};
  for (char c : *r)
    if (c < 0x21 || c > 0x7e || c == ',') return {false, "malformed nonce"};
  if (!authzid.empty() && authzid != *user) return {false, "authorisation identity differs from the user"};
  user_ = std::move(*user);
  nonce_.assign(*r);
  st_ = state::first_seen;
  return {true, {}};
}

std::string scram_server::server_first(const scram_secrets& s, std::string_view server_nonce) {
  if (st_ != state::first_seen) throw std::logic_error("scram_server::server_first out of order");
  secrets_ = s;
  nonce_.append(server_nonce);
  server_first_ = "r=" + nonce_ + ",s=" + base::base64_encode(s.salt) + ",i=" + std::to_string(s.iterations);
  st_ = state::challenged;
  return server_first_;
}

scram_server::result scram_server::client_final(std::string_view msg) {
  if (st_ != state::challenged) return {false, "unexpected client-final-message"};
  st_ = state::done;
  const auto proof_at = msg.rfind(",p=");
  if (proof_at == std::string_view::npos) return {false, "malformed client-final-message"};
  const auto without_proof = msg.substr(0, proof_at);
  std::string_view rest = msg;
  auto c = attribute(rest, 'c');
  if (!c) return {false, "malformed channel binding"};
  const auto expected_cb = gs2_header_ + (plus_ ? exporter_ : std::string{});
  if (base::base64_decode(*c) != expected_cb) return {false, "channel binding mismatch"};
  auto r = attribute(rest, 'r');
  if (!r || *r != nonce_) return {false, "nonce mismatch"};
  const auto proof = base::base64_decode(msg.substr(proof_at + 3));
  if (!proof || proof->size() != secrets_->stored_key.size()) return {false, "malformed proof"};
  const auto auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  const auto signature = hmac(secrets_->stored_key, auth_message);
  scram_key client_key{};
  for (std::size_t i = 0; i < client_key.size(); ++i)
    client_key[i] = static_cast<std::uint8_t>(static_cast<std::uint8_t>((*proof)[i]) ^ signature[i]);
  const auto stored = sha256(client_key);
  if (CRYPTO_memcmp(stored.data(), secrets_->stored_key.data(), stored.size()) != 0) return {false, "wrong password"};
  return {true, "v=" + base::base64_encode(as_text(hmac(secrets_->server_key, auth_message)))};
}

}  // namespace smtpsd::sasl
