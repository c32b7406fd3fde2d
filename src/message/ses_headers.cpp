#include "message/ses_headers.hpp"

#include "base/strings.hpp"

namespace smtpsd::message {

namespace {

bool valid_part(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '-' || c == '_')) return false;
  return true;
}

}  // namespace

std::optional<tags> parse_message_tags(std::string_view value) {
  tags out;
  for (auto item : base::split(value, ',')) {
    item = base::trim(item);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    auto name = base::trim(item.substr(0, eq)), val = base::trim(item.substr(eq + 1));
    if (!valid_part(name) || !valid_part(val)) return std::nullopt;
    out.emplace_back(std::string(name), std::string(val));
    if (out.size() > 50) return std::nullopt;
  }
  return out;
}

bool is_ses_header(std::string_view field_name) {
  return base::iequals(field_name, "X-SES-CONFIGURATION-SET") || base::iequals(field_name, "X-SES-MESSAGE-TAGS");
}

}  // namespace smtpsd::message
