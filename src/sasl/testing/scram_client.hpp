#pragma once
// The client side of SCRAM-SHA-256(-PLUS), for tests: computed from the
// RFC 5802 §3 formulas with OpenSSL directly, not with the server's code.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <map>
#include <string>
#include <string_view>

#include "base/base64.hpp"

namespace smtpsd::sasl::testing {

inline std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[32];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return {reinterpret_cast<char*>(out), len};
}

struct client_proof {
  std::string proof;             // base64
  std::string server_signature;  // base64, what server-final's v= must be
};

inline client_proof prove(const std::string& password, const std::string& salt, int iterations,
                          const std::string& auth_message) {
  unsigned char salted[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                    EVP_sha256(), 32, salted);
  const std::string salted_password(reinterpret_cast<char*>(salted), 32);
  const auto client_key = hmac_sha256(salted_password, "Client Key");
  unsigned char stored[32];
  SHA256(reinterpret_cast<const unsigned char*>(client_key.data()), 32, stored);
  const auto signature = hmac_sha256({reinterpret_cast<char*>(stored), 32}, auth_message);
  std::string proof(32, '\0');
  for (int i = 0; i < 32; ++i) proof[i] = static_cast<char>(client_key[i] ^ signature[i]);
  const auto server_key = hmac_sha256(salted_password, "Server Key");
  return {base::base64_encode(proof), base::base64_encode(hmac_sha256(server_key, auth_message))};
}

// One exchange: first(), then final_message(server-first), then check v=.
class scram_client {
 public:
  // exporter: the tls-exporter value for -PLUS, empty for SCRAM-SHA-256.
  scram_client(std::string user, std::string password, std::string exporter = {})
      : user_(std::move(user)), password_(std::move(password)), exporter_(std::move(exporter)) {
    gs2_ = exporter_.empty() ? "n,," : "p=tls-exporter,,";
  }
  std::string first() const { return gs2_ + bare(); }
  std::string final_message(const std::string& server_first) {
    std::map<char, std::string> attrs;
    std::size_t pos = 0;
    while (pos < server_first.size()) {
      auto end = server_first.find(',', pos);
      if (end == std::string::npos) end = server_first.size();
      if (end - pos >= 2) attrs[server_first[pos]] = server_first.substr(pos + 2, end - pos - 2);
      pos = end + 1;
    }
    const auto without_proof = "c=" + base::base64_encode(gs2_ + exporter_) + ",r=" + attrs['r'];
    const auto p = prove(password_, base::base64_decode(attrs['s']).value_or(""), std::stoi(attrs['i']),
                         bare() + "," + server_first + "," + without_proof);
    expected_v_ = "v=" + p.server_signature;
    return without_proof + ",p=" + p.proof;
  }
  const std::string& expected_server_final() const { return expected_v_; }

 private:
  std::string bare() const { return "n=" + user_ + ",r=fyko+d2lbbFgONRv9qkxdawL"; }
  std::string user_, password_, exporter_, gs2_, expected_v_;
};

}  // namespace smtpsd::sasl::testing
