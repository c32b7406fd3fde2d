#pragma once
// Checks SMTP credentials. Argon2id (libsodium) costs tens of milliseconds by
// design, so verify() blocks and runs on the worker pool. Unknown users are
// checked against a dummy hash so they cost the same time as known ones. A
// short-lived cache keyed by a keyed hash of username and password lets a
// client that reconnects for every message pay for the hash once; every hit
// still reads the credential row, so a revoke or a suspension applies at once.
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/clock.hpp"
#include "base/secret.hpp"
#include "policy/connections.hpp"
#include "store/account_store.hpp"

namespace smtpsd::policy {

struct auth_result {
  enum class kind { success, failure, throttled, temporary } k = kind::failure;
  std::optional<store::account> account;
  std::string reason;  // for the log; never holds the password
};

class authenticator {
 public:
  authenticator(std::shared_ptr<store::account_store> accounts, const base::clock& clock,
                std::chrono::seconds cache_ttl = std::chrono::minutes(5), auth_throttle* throttle = nullptr);

  // Blocking. With a throttle, a client address over its failure limit gets
  // `throttled` without any password being checked, and failures count.
  auth_result verify(std::string_view username, const base::secret_string& password, const std::string& client_ip = {});
  bool throttled(const std::string& client_ip);
  std::size_t cache_size() const;

  static std::string hash_password(std::string_view password);  // Argon2id, libsodium string format
  static std::string generate_password();                        // 24 characters, ~143 bits
  static std::string generate_username();                        // 20 characters, like SES's

 private:
  using cache_key = std::array<unsigned char, 32>;
  cache_key key_of(std::string_view username, std::string_view password) const;

  auth_result check(std::string_view username, const base::secret_string& password);

  std::shared_ptr<store::account_store> accounts_;
  const base::clock& clock_;
  auth_throttle* throttle_;
  std::chrono::seconds ttl_;
  std::string dummy_hash_;
  std::array<unsigned char, 32> cache_secret_{};
  struct cached {
    std::string hash;  // the stored hash the password was verified against
    base::time_point expires;
  };
  mutable std::mutex mu_;
  std::map<cache_key, cached> cache_;
};

}  // namespace smtpsd::policy
