#pragma once
// Checks SMTP credentials. Argon2id (libsodium) costs tens of milliseconds by
// design, so verify() blocks and runs on the worker pool. Unknown users are
// checked against a dummy hash so they cost the same time as known ones. A
// short-lived cache keyed by a keyed hash of username and password lets a
// client that reconnects for every message pay for the hash once; every hit
// on the pool still reads the credential row, so a revoke or a suspension
// applies at once. verify_from_memory() answers a repeated AUTH without the
// pool (no thread hop, no read) while the store's change signal says that
// nothing was changed since the row was read (store/change_signal.hpp).
//
// SCRAM-SHA-256 needs no password hash at AUTH: the client proves it knows
// the password against the StoredKey a credential keeps (made when it was
// created; credentials older than SCRAM have none and keep PLAIN and LOGIN).
// The lookup gives an unknown user, or one without SCRAM secrets, made-up
// secrets that stay the same for that name, so the exchange fails only at the
// proof, as a wrong password does. Throttling counts SCRAM failures too.
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
#include "policy/suppression_copy.hpp"
#include "sasl/scram.hpp"
#include "store/account_store.hpp"

namespace smtpsd::policy {

struct auth_result {
  enum class kind { success, failure, throttled, temporary } k = kind::failure;
  std::optional<store::account> account;
  std::string reason;  // for the log; never holds the password
};

struct scram_lookup {
  enum class kind { found, throttled, temporary } k = kind::found;
  sasl::scram_secrets secrets;
  std::string reason;  // for throttled and temporary
};

class authenticator {
 public:
  authenticator(std::shared_ptr<store::account_store> accounts, const base::clock& clock,
                std::chrono::seconds cache_ttl = std::chrono::minutes(5), auth_throttle* throttle = nullptr);

  // Blocking. With a throttle, a client address over its failure limit gets
  // `throttled` without any password being checked, and failures count.
  auth_result verify(std::string_view username, const base::secret_string& password, const std::string& client_ip = {});
  bool throttled(const std::string& client_ip);
  // No I/O, for an I/O thread: success when verify() accepted this username
  // and password less than `recheck` ago and the store's change signal has
  // not moved since it read the credential row, so a revoke, a suspension or
  // any other change sends the next AUTH to verify() again. nullopt: ask
  // verify() on the pool (nothing remembered, a store without a signal, a
  // shared throttle, a throttled client).
  std::optional<auth_result> verify_from_memory(std::string_view username, const base::secret_string& password,
                                                const std::string& client_ip);
  // How long a remembered answer is trusted without a new read (should a
  // writer die between its commit and the signal). The same bound as the
  // profiles and the suppression list a remembered login's MAIL and RCPT
  // are answered from: the pool call that verified the login confirmed them.
  static constexpr auto recheck = suppression_copy::recheck;
  // Throttling counts in a shared store (Redis): throttled() is a network call.
  bool throttle_is_shared() const { return throttle_ && throttle_->is_shared(); }

  // Blocking. The SCRAM secrets of a user, real or made up.
  scram_lookup scram_secrets(std::string_view username, const std::string& client_ip = {});
  // Blocking. After the SCRAM proof: a failed proof counts like a wrong
  // password (why: what the mechanism said); a good one still needs the
  // credential to exist and its account not to be suspended.
  auth_result confirm_scram(std::string_view username, bool proof_ok, std::string_view why,
                            const std::string& client_ip = {});
  std::size_t cache_size() const;

  static std::string hash_password(std::string_view password);  // Argon2id, libsodium string format
  static std::string scram_record(std::string_view password);   // sasl::format_scram_secrets, fresh salt
  static std::string generate_password();                        // 24 characters, ~143 bits
  static std::string generate_username();                        // 20 characters, like SES's

 private:
  using cache_key = std::array<unsigned char, 32>;
  cache_key key_of(std::string_view username, std::string_view password) const;
  // BLAKE2b keyed with `key` over the length-prefixed name and the rest.
  static cache_key keyed(std::string_view key, std::string_view username, std::string_view password);
  // The store's installation secret, read once (blocking).
  std::string installation_secret();

  auth_result check(std::string_view username, const base::secret_string& password);
  auth_result throttled_result(const std::string& client_ip) const;
  void count_failure(auth_result& r, const std::string& client_ip);
  std::optional<store::login> find_login(std::string_view username, auth_result& r);
  auth_result account_checks(const store::login& login, auth_result r) const;

  std::shared_ptr<store::account_store> accounts_;
  const base::clock& clock_;
  auth_throttle* throttle_;
  std::chrono::seconds ttl_;
  std::string dummy_hash_;
  std::array<unsigned char, 32> cache_secret_{};
  std::mutex secret_mu_;
  std::string installation_secret_;
  struct cached {
    std::string hash;  // the stored hash the password was verified against
    base::time_point expires;
    // For verify_from_memory(): the account as read with the row, the
    // change signal read just before the row, and when. No account: the
    // last check failed (a suspended account).
    std::optional<store::account> account;
    std::uint64_t signal = 0;
    base::time_point confirmed{};
  };
  void remember(const cache_key& key, const auth_result& r, std::uint64_t signal, base::time_point read_at);
  mutable std::mutex mu_;
  std::map<cache_key, cached> cache_;
};

}  // namespace smtpsd::policy
