#pragma once
// SMTP credentials: a generated password shown once, only its hash kept.
#include <optional>
#include <string>

#include "base/secret.hpp"
#include "service/service.hpp"

namespace smtpsd::service {

// {"username", "account", "password"}: password null when it was given.
json add_credential(env& e, const std::string& account, const std::optional<std::string>& username,
                    const std::optional<base::secret_string>& password);
// [{"username", "account", "created"}]
json list_credentials(env& e, const std::string& account);
json revoke_credential(env& e, const std::string& username);

}  // namespace smtpsd::service
