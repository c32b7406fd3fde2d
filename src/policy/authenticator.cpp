#include "policy/authenticator.hpp"

#include <sodium.h>

#include <stdexcept>

#include <fmt/format.h>

#include "base/random.hpp"

namespace smtpsd::policy {

namespace {
constexpr std::size_t max_cache = 100000;

std::string random_text(std::string_view alphabet, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += alphabet[randombytes_uniform(static_cast<std::uint32_t>(alphabet.size()))];
  return out;
}
}  // namespace

authenticator::authenticator(std::shared_ptr<store::account_store> accounts, const base::clock& clock,
                             std::chrono::seconds cache_ttl, auth_throttle* throttle)
    : accounts_(std::move(accounts)), clock_(clock), throttle_(throttle), ttl_(cache_ttl) {
  dummy_hash_ = hash_password(generate_password());
  randombytes_buf(cache_secret_.data(), cache_secret_.size());
}

std::string authenticator::hash_password(std::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    throw std::runtime_error("out of memory while hashing a password");
  return out;
}

std::string authenticator::generate_password() {
  return random_text("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", 24);
}

std::string authenticator::generate_username() { return "SMTP" + random_text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16); }

authenticator::cache_key authenticator::key_of(std::string_view username, std::string_view password) const {
  return keyed(std::string_view(reinterpret_cast<const char*>(cache_secret_.data()), cache_secret_.size()), username,
               password);
}

authenticator::cache_key authenticator::keyed(std::string_view key, std::string_view username, std::string_view password) {
  cache_key k{};
  crypto_generichash_state st;
  crypto_generichash_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size(), k.size());
  auto len = static_cast<std::uint32_t>(username.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&len), sizeof len);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(username.data()), username.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(password.data()), password.size());
  crypto_generichash_final(&st, k.data(), k.size());
  return k;
}

std::size_t authenticator::cache_size() const {
  std::lock_guard l(mu_);
  return cache_.size();
}

bool authenticator::throttled(const std::string& client_ip) { return throttle_ && throttle_->throttled(client_ip); }

std::string authenticator::scram_record(std::string_view password) {
  return sasl::format_scram_secrets(
      sasl::make_scram_secrets(password, base::random_bytes(16), sasl::scram_min_iterations));
}

auth_result authenticator::throttled_result(const std::string& client_ip) const {
  auth_result r;
  r.k = auth_result::kind::throttled;
  r.reason = fmt::format("{} failures within the window from {}", throttle_->limit(), client_ip);
  return r;
}

void authenticator::count_failure(auth_result& r, const std::string& client_ip) {
  if (r.k != auth_result::kind::failure || !throttle_) return;
  auto n = throttle_->failure(client_ip);
  r.reason += fmt::format(" (failure {} of {} from {})", n, throttle_->limit(), client_ip);
}

std::optional<store::login> authenticator::find_login(std::string_view username, auth_result& r) {
  try {
    return accounts_->find_login(username);
  } catch (const std::exception& e) {
    r.k = auth_result::kind::temporary;
    r.reason = std::string("store unavailable: ") + e.what();
    return std::nullopt;
  }
}

auth_result authenticator::account_checks(const store::login& login, auth_result r) const {
  if (login.acct.suspended) {
    r.k = auth_result::kind::failure;
    r.reason = "account suspended";
    return r;
  }
  r.k = auth_result::kind::success;
  r.account = login.acct;
  return r;
}

auth_result authenticator::verify(std::string_view username, const base::secret_string& password,
                                  const std::string& client_ip) {
  if (throttled(client_ip)) return throttled_result(client_ip);
  auto r = check(username, password);
  count_failure(r, client_ip);
  return r;
}

scram_lookup authenticator::scram_secrets(std::string_view username, const std::string& client_ip) {
  scram_lookup out;
  if (throttled(client_ip)) {
    out.k = scram_lookup::kind::throttled;
    out.reason = throttled_result(client_ip).reason;
    return out;
  }
  auth_result r;
  auto login = find_login(username, r);
  if (r.k == auth_result::kind::temporary) {
    out.k = scram_lookup::kind::temporary;
    out.reason = r.reason;
    return out;
  }
  if (login)
    if (auto s = sasl::parse_scram_secrets(login->cred.scram)) {
      out.secrets = std::move(*s);
      return out;
    }
  // Made up from the name with the installation's secret: the same salt on
  // every try, on every node and after a restart, and keys no password matches.
  std::string secret;
  try {
    secret = installation_secret();
  } catch (const std::exception& e) {
    out.k = scram_lookup::kind::temporary;
    out.reason = std::string("store unavailable: ") + e.what();
    return out;
  }
  const auto salt = keyed(secret, username, "scram salt");
  out.secrets.salt.assign(reinterpret_cast<const char*>(salt.data()), 16);
  out.secrets.iterations = sasl::scram_min_iterations;
  out.secrets.stored_key = keyed(secret, username, "scram keys");
  out.secrets.server_key = keyed(secret, username, "scram server key");
  return out;
}

std::string authenticator::installation_secret() {
  std::lock_guard l(secret_mu_);
  if (installation_secret_.empty()) installation_secret_ = accounts_->installation_secret();
  return installation_secret_;
}

auth_result authenticator::confirm_scram(std::string_view username, bool proof_ok, std::string_view why,
                                         const std::string& client_ip) {
  if (throttled(client_ip)) return throttled_result(client_ip);
  auth_result r;
  if (!proof_ok) {
    r.reason = std::string(why);
  } else if (auto login = find_login(username, r)) {
    r = account_checks(*login, std::move(r));
  } else if (r.k != auth_result::kind::temporary) {
    r.reason = "credential revoked during the exchange";
  }
  count_failure(r, client_ip);
  return r;
}

std::optional<auth_result> authenticator::verify_from_memory(std::string_view username,
                                                             const base::secret_string& password,
                                                             const std::string& client_ip) {
  const auto* changes = accounts_->changes();
  if (!changes || (throttle_ && (throttle_->is_shared() || throttle_->throttled(client_ip)))) return std::nullopt;
  const auto key = key_of(username, password.expose());
  const auto signal = changes->value();
  const auto now = clock_.now();
  std::lock_guard l(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  const auto& e = it->second;
  if (!e.account || e.signal != signal || e.expires <= now || now < e.confirmed || now - e.confirmed >= recheck)
    return std::nullopt;
  auth_result r;
  r.k = auth_result::kind::success;
  r.account = e.account;
  return r;
}

void authenticator::remember(const cache_key& key, const auth_result& r, std::uint64_t signal,
                             base::time_point read_at) {
  std::lock_guard l(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return;  // emptied meanwhile
  auto& e = it->second;
  if (r.k != auth_result::kind::success) {
    e.account.reset();
    return;
  }
  e.account = r.account;
  e.signal = signal;
  e.confirmed = read_at;
}

auth_result authenticator::check(std::string_view username, const base::secret_string& password) {
  auth_result r;
  // Read before the row: a change committed after the read moves it after this.
  const auto* changes = accounts_->changes();
  const auto signal = changes ? changes->value() : 0;
  const auto read_at = clock_.now();
  auto login = find_login(username, r);
  if (r.k == auth_result::kind::temporary) return r;
  const auto& pw = password.expose();
  if (!login) {
    // The same work as for a known user; the answer is a failure either way.
    [[maybe_unused]] const int same_cost = crypto_pwhash_str_verify(dummy_hash_.c_str(), pw.data(), pw.size());
    r.reason = "unknown user";
    return r;
  }
  const auto key = key_of(username, pw);
  const auto now = clock_.now();
  bool ok = false;
  {
    std::lock_guard l(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (it->second.expires > now && it->second.hash == login->cred.hash)
        ok = true;
      else
        cache_.erase(it);
    }
  }
  if (!ok) {
    ok = crypto_pwhash_str_verify(login->cred.hash.c_str(), pw.data(), pw.size()) == 0;
    if (ok) {
      std::lock_guard l(mu_);
      if (cache_.size() >= max_cache) cache_.clear();
      auto& e = cache_[key] = cached{};
      e.hash = login->cred.hash;
      e.expires = now + ttl_;
    }
  }
  if (!ok) {
    r.reason = "wrong password";
    return r;
  }
  r = account_checks(*login, std::move(r));
  if (changes) remember(key, r, signal, read_at);
  return r;
}

}  // namespace smtpsd::policy
