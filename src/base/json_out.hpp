#pragma once
// Writes compact JSON straight into a string, without building a document
// first: for the event bodies that leave on every message (the smtpsd and SES
// formats, the stored record), where nlohmann-json's tree cost one allocation
// per member and most of the webhooks' CPU. For valid UTF-8 the output is
// byte for byte what nlohmann-json's dump(-1) writes; a byte that starts no
// valid sequence becomes U+FFFD, so the output is always valid JSON and UTF-8
// (fuzz/fuzz_json_out.cpp checks both against nlohmann-json). Reading JSON
// stays nlohmann-json's job.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smtpsd::base {

// `s` as a JSON string, quotes included, appended to out.
void append_json_string(std::string& out, std::string_view s);

class json_out {
 public:
  explicit json_out(std::string& out) : out_(out) {}

  json_out& begin_object() { return open('{'); }
  json_out& end_object() { return close('}'); }
  json_out& begin_array() { return open('['); }
  json_out& end_array() { return close(']'); }
  // A member's name; its value is whatever is written next.
  json_out& key(std::string_view k);

  json_out& value(std::string_view s);
  json_out& value(const std::string& s) { return value(std::string_view(s)); }
  json_out& value(const char* s) { return value(std::string_view(s)); }
  json_out& value(bool b);
  json_out& value(std::int64_t n);
  json_out& value(std::uint64_t n);
  json_out& value(int n) { return value(static_cast<std::int64_t>(n)); }
  json_out& null();
  // The string, or null when it is empty (an unknown value).
  json_out& string_or_null(std::string_view s) { return s.empty() ? null() : value(s); }
  json_out& strings(const std::vector<std::string>& list);

  template <class V>
  json_out& member(std::string_view k, const V& v) {
    return key(k).value(v);
  }

 private:
  json_out& open(char c);
  json_out& close(char c);
  bool comma_due();  // a value or member comes: whether a comma goes before it
  void separate();   // the comma before a value in an array or a member in an object

  std::string& out_;
  std::array<bool, 32> first_{};  // per open level: nothing written in it yet
  std::size_t depth_ = 0;
  bool after_key_ = false;
};

}  // namespace smtpsd::base
