#pragma once
// SES's own header fields for event publishing: X-SES-CONFIGURATION-SET
// names the configuration set, X-SES-MESSAGE-TAGS carries tags as
// "name=value, name2=value2". Tag names and values use letters, digits, '-'
// and '_' (at most 256 characters each, at most 50 tags). Both fields are
// removed before the message is signed and sent. Pure.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smtpsd::message {

using tags = std::vector<std::pair<std::string, std::string>>;

// nullopt when the value breaks the rules above.
std::optional<tags> parse_message_tags(std::string_view value);

bool is_ses_header(std::string_view field_name);

}  // namespace smtpsd::message
