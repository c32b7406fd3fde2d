#include "service/credentials.hpp"

#include "base/time_format.hpp"
#include "policy/authenticator.hpp"
#include "service/accounts.hpp"

namespace smtpsd::service {

namespace {

void validate_username(const std::string& u) {
  if (u.empty() || u.size() > 255) invalid("the username must be 1 to 255 characters");
  for (unsigned char c : u)
    if (c <= 32 || c == 127) invalid("the username may not contain spaces or control characters");
}

}  // namespace

json add_credential(env& e, const std::string& account, const std::optional<std::string>& username,
                    const std::optional<base::secret_string>& password) {
  const auto user = username.value_or(policy::authenticator::generate_username());
  validate_username(user);
  if (password && (password->expose().empty() || password->expose().size() > 255))
    invalid("the password must be 1 to 255 characters");
  const auto secret = password.value_or(base::secret_string(policy::authenticator::generate_password()));
  auto a = require_account(e, account);
  auto hash = policy::authenticator::hash_password(secret.expose());
  auto scram = policy::authenticator::scram_record(secret.expose());
  if (!e.stores.accounts->create_credential(a.id, user, hash, scram)) conflict("the username \"" + user + "\" is taken");
  return {{"username", user}, {"account", a.name}, {"password", password ? json(nullptr) : json(secret.expose())}};
}

json list_credentials(env& e, const std::string& account) {
  auto a = require_account(e, account);
  auto out = json::array();
  for (auto& c : e.stores.accounts->list_credentials(a.id))
    out.push_back({{"username", c.username},
                   {"account", a.name},
                   {"created", base::rfc3339(c.created)},
                   {"scram", !c.scram.empty()}});
  return out;
}

json revoke_credential(env& e, const std::string& username) {
  if (!e.stores.accounts->revoke_credential(username)) not_found("no credential with username \"" + username + "\"");
  return {{"revoked", username}};
}

}  // namespace smtpsd::service
