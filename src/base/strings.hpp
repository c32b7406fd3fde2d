#pragma once
// ASCII helpers: SMTP keywords are case-insensitive ASCII, never locale-dependent.
#include <string>
#include <string_view>
#include <vector>

namespace smtpsd::base {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
constexpr char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
std::string_view trim(std::string_view s);  // spaces and tabs
std::vector<std::string_view> split(std::string_view s, char sep);
// split without the vector: f(part) for each part in order, stopping at the
// first that f returns false for; true when f accepted them all.
template <class F>
bool all_parts(std::string_view s, char sep, F f) {
  for (;;) {
    const auto pos = s.find(sep);
    if (!f(s.substr(0, pos))) return false;
    if (pos == std::string_view::npos) return true;
    s.remove_prefix(pos + 1);
  }
}
bool is_ascii(std::string_view s);
bool parse_u64(std::string_view s, unsigned long long& out);  // digits only, no overflow
// Escapes control characters and non-ASCII for safe single-line logging.
std::string printable(std::string_view s, std::size_t max = 200);

}  // namespace smtpsd::base

namespace smtpsd::base {
// Well-formed UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past U+10FFFF.
bool valid_utf8(std::string_view s);
// The length of the well-formed UTF-8 sequence starting at s[i] (1 for
// ASCII), or 0 if none starts there. i < s.size().
std::size_t utf8_sequence(std::string_view s, std::size_t i);
}  // namespace smtpsd::base
