#pragma once
// The Smtpsd-Signature header of a webhook request: "t=UNIX_SECONDS,v1=HEX",
// HEX being the HMAC-SHA256 under the webhook's secret of t + "." + body
// (docs/events.md shows a receiver checking it). The timestamp inside the
// signed text lets a receiver refuse replays of old requests.
#include <cstdint>
#include <string>
#include <string_view>

namespace smtpsd::events {

std::string hmac_sha256_hex(std::string_view key, std::string_view text);
std::string signature_header(std::string_view secret, std::int64_t unix_seconds, std::string_view body);

}  // namespace smtpsd::events
