#pragma once
// RFC 5322 §3.4 address lists (with RFC 6532 UTF-8 and the obsolete forms of
// §4.4 tolerated): display names, angle addresses, groups, comments, quoted
// strings. Returns the addr-specs ("local@domain") in order.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpsd::message {

// nullopt when the value cannot be parsed; an empty group gives no addresses.
std::optional<std::vector<std::string>> parse_address_list(std::string_view value);

}  // namespace smtpsd::message
