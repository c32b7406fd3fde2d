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
  w.begin_object().member(in, in).key("n").begin_array().value(in).null().end_array().end_object();
  const auto back = nlohmann::json::parse(out, nullptr, false);
  if (!back.is_object() || back.size() != 2) __builtin_trap();
  const auto s = back["n"][0].get<std::string>();
  if (!smtpsd::base::valid_utf8(s)) __builtin_trap();
  if (smtpsd::base::valid_utf8(in)) {
    if (s != in) __builtin_trap();
    std::string one;
    smtpsd::base::append_json_string(one, in);
    if (one != nlohmann::json(in).dump()) __builtin_trap();
  }
  return 0;
}
