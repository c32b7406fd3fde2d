#include "base/json_out.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "base/strings.hpp"

namespace smtpsd::base {

namespace {
// The octets a JSON string cannot hold as they are, or that start UTF-8 sequences to check.
constexpr std::array<bool, 256> special = [] {
  std::array<bool, 256> t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
  return t;
}();

// Whether any of the eight octets in x is special (exact: the borrows of the
// zero tests only ever add a report where an octet below already is one).
constexpr bool any_special(std::uint64_t x) {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  const auto has_zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
  const std::uint64_t below_space = (x - ones * 0x20) & ~x & highs;
  return (below_space | has_zero(x ^ (ones * '"')) | has_zero(x ^ (ones * '\\')) | (x & highs)) != 0;
}

// Where the run of octets from `from` that need no escaping ends: eight at a time, then one.
std::size_t plain_run(std::string_view s, std::size_t from) {
  std::size_t j = from;
  for (; j + 8 <= s.size(); j += 8) {
    std::uint64_t x;
    std::memcpy(&x, s.data() + j, 8);
    if (any_special(x)) break;
  }
  while (j < s.size() && !special[static_cast<unsigned char>(s[j])]) ++j;
  return j;
}
}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t j = plain_run(s, 0);
  if (out.capacity() - out.size() < s.size() + 2) out.reserve(std::max(out.size() + s.size() + 2, 2 * out.capacity()));
  if (j == s.size()) {  // most strings: quotes and all in one go (three appends cost twice as much)
    const std::size_t n = out.size();
    out.resize(n + s.size() + 2);
    char* p = out.data() + n;
    *p = '"';
    if (!s.empty()) std::memcpy(p + 1, s.data(), s.size());
    p[s.size() + 1] = '"';
    return;
  }
  out += '"';
  out.append(s.data(), j);
  std::size_t i = j;
  while (i < s.size()) {
    // A run that needs no escaping is copied in one go.
    j = plain_run(s, i);
    out.append(s.data() + i, j - i);
    i = j;
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const auto n = utf8_sequence(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD for the byte that starts no valid sequence
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    }
    ++i;
  }
  out += '"';
}

bool json_out::comma_due() {
  if (after_key_) {
    after_key_ = false;
    return false;
  }
  if (depth_ == 0) return false;
  return !std::exchange(first_[depth_ - 1], false);
}

void json_out::separate() {
  if (comma_due()) out_ += ',';
}

json_out& json_out::open(char c) {
  separate();
  if (depth_ == first_.size()) throw std::logic_error("json_out: nested too deep");
  first_[depth_++] = true;
  out_ += c;
  return *this;
}

json_out& json_out::close(char c) {
  if (depth_ == 0) throw std::logic_error("json_out: nothing to close");
  --depth_;
  out_ += c;
  return *this;
}

json_out& json_out::key(std::string_view k) {
  // The names are the program's own: plain and short, written with their
  // comma and colon in one append.
  char buf[64];
  if (k.size() + 4 <= sizeof buf && plain_run(k, 0) == k.size()) {
    std::size_t n = 0;
    if (comma_due()) buf[n++] = ',';
    buf[n++] = '"';
    std::memcpy(buf + n, k.data(), k.size());
    n += k.size();
    buf[n++] = '"';
    buf[n++] = ':';
    out_.append(buf, n);
  } else {
    separate();
    append_json_string(out_, k);
    out_ += ':';
  }
  after_key_ = true;
  return *this;
}

json_out& json_out::value(std::string_view s) {
  separate();
  append_json_string(out_, s);
  return *this;
}

json_out& json_out::value(bool b) {
  separate();
  out_ += b ? "true" : "false";
  return *this;
}

json_out& json_out::value(std::int64_t n) {
  separate();
  fmt::format_to(std::back_inserter(out_), "{}", n);
  return *this;
}

json_out& json_out::value(std::uint64_t n) {
  separate();
  fmt::format_to(std::back_inserter(out_), "{}", n);
  return *this;
}

json_out& json_out::null() {
  separate();
  out_ += "null";
  return *this;
}

json_out& json_out::strings(const std::vector<std::string>& list) {
  begin_array();
  for (auto& s : list) value(s);
  return end_array();
}

}  // namespace smtpsd::base
