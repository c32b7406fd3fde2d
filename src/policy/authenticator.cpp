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
  cache_key k{};
  crypto_generichash_state st;
  crypto_generichash_init(&st, cache_secret_.data(), cache_secret_.size(), k.size());
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

auth_result authenticator::verify(std::string_view username, const base::secret_string& password,
                                  const std::string& client_ip) {
  if (throttled(client_ip)) {
    auth_result r;
    r.k = auth_result::kind::throttled;
    r.reason = fmt::format("{} failures within the window from {}", throttle_->limit(), client_ip);
    return r;
  }
  auto r = check(username, password);
  if (r.k == auth_result::kind::failure && throttle_) {
    auto n = throttle_->failure(client_ip);
    r.reason += fmt::format(" (failure {} of {} from {})", n, throttle_->limit(), client_ip);
  }
  return r;
}

auth_result authenticator::check(std::string_view username, const base::secret_string& password) {
  auth_result r;
  std::optional<store::login> login;
  try {
    login = accounts_->find_login(username);
  } catch (const std::exception& e) {
    r.k = auth_result::kind::temporary;
    r.reason = std::string("store unavailable: ") + e.what();
    return r;
  }
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
      cache_[key] = cached{login->cred.hash, now + ttl_};
    }
  }
  if (!ok) {
    r.reason = "wrong password";
    return r;
  }
  if (login->acct.suspended) {
    r.reason = "account suspended";
    return r;
  }
  r.k = auth_result::kind::success;
  r.account = login->acct;
  return r;
}

}  // namespace smtpsd::policy
