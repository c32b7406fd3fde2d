// The DATA/BDAT content reader. Beyond not crashing, it checks the
// properties smuggling defences rest on: content is only ever ended by
// <CRLF>.<CRLF>, accepted content never holds a bare CR or LF, and the way
// the input is split into reads changes nothing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/data_reader.hpp"

using namespace smtpsd::smtp;

namespace {
struct run_result {
  std::string out;
  std::size_t consumed = 0;
  bool done = false;
  data_reader::error err = data_reader::error::none;
};

run_result run(std::string_view in, data_reader::mode m, std::size_t step) {
  data_reader r(m, 4096);
  run_result res;
  while (res.consumed < in.size() && !r.done()) {
    res.consumed += r.feed(in.substr(res.consumed, step), res.out);
  }
  if (m == data_reader::mode::chunked) r.finish(res.out);
  res.done = r.done();
  res.err = r.err();
  return res;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::size_t step = 1 + data[0] % 17;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  for (auto m : {data_reader::mode::dot_terminated, data_reader::mode::chunked}) {
    auto whole = run(in, m, in.size() ? in.size() : 1);
    auto split = run(in, m, step);
    if (whole.consumed != split.consumed || whole.err != split.err) std::abort();
    // After an error the content is discarded, so only clean content must match.
    if (whole.err == data_reader::error::none && whole.out != split.out) std::abort();
    if (m == data_reader::mode::dot_terminated && whole.done) {
      auto used = in.substr(0, whole.consumed);
      bool ends = used == ".\r\n" || (used.size() >= 5 && used.substr(used.size() - 5) == "\r\n.\r\n");
      if (!ends) std::abort();  // ended on something other than <CRLF>.<CRLF>
    }
    if (whole.err == data_reader::error::none) {
      for (std::size_t i = 0; i < whole.out.size(); ++i) {
        if (whole.out[i] == '\n' && (i == 0 || whole.out[i - 1] != '\r')) std::abort();
        if (whole.out[i] == '\r' && (i + 1 >= whole.out.size() || whole.out[i + 1] != '\n')) std::abort();
      }
    }
  }
  return 0;
}
