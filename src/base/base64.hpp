#pragma once
// Standard base64 (RFC 4648 §4) through libsodium's constant-time codec.
#include <optional>
#include <string>
#include <string_view>

namespace smtpsd::base {

std::string base64_encode(std::string_view bytes);
// nullopt on any invalid character or padding.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace smtpsd::base
