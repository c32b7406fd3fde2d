#pragma once
// Tokens of the HTTP API: shown once when made, only a SHA-256 hash kept
// (a token is 32 random bytes, so a fast hash is enough); read-only tokens
// may only read.
#include <optional>
#include <string>

#include "service/service.hpp"

namespace smtpsd::service {

// {"name", "token", "read_only", "created"}
json add_token(env& e, const std::string& name, bool read_only);
json list_tokens(env& e);  // [{"name", "read_only", "created"}]
json revoke_token(env& e, const std::string& name);
// The token a request presented, if it is one.
std::optional<store::api_token> check_token(env& e, const std::string& token);
std::string token_hash(const std::string& token);

}  // namespace smtpsd::service
