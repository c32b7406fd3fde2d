// The JSON writer (base/json_out): any bytes make a JSON string that
// nlohmann-json reads back as valid UTF-8; valid UTF-8 comes back unchanged,
// written exactly as nlohmann-json writes it.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/json_out.hpp"
#include "base/strings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::string out;
  smtpsd::base::json_out w(out);
  // [{in: in}, [in, null]]: the input as a name and as values (an outer
  // object could not hold it: the input may be the other member's name).
  w.begin_array().begin_object().member(in, in).end_object().begin_array().value(in).null().end_array().end_array();
  const auto back = nlohmann::json::parse(out, nullptr, false);
  if (!back.is_array() || back.size() != 2 || !back[0].is_object() || back[0].size() != 1) __builtin_trap();
  const auto s = back[1][0].get<std::string>();
  if (!smtpsd::base::valid_utf8(s) || !smtpsd::base::valid_utf8(back[0].begin().key())) __builtin_trap();
  if (smtpsd::base::valid_utf8(in)) {
    if (s != in || back[0].begin().key() != in || back[0].begin().value() != in) __builtin_trap();
    std::string one;
    smtpsd::base::append_json_string(one, in);
    if (one != nlohmann::json(in).dump()) __builtin_trap();
  }
  return 0;
}
