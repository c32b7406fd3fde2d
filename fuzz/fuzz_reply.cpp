// The client side: replies assembled from server bytes (bounded), then EHLO
// capability parsing of whatever reply came out.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "smtp/client.hpp"
#include "smtp/reply_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  smtpsd::smtp::line_buffer buf;
  smtpsd::smtp::reply_parser parser;
  // Feed in two pieces so partial lines are exercised.
  const std::size_t half = size / 2;
  for (int piece = 0; piece < 2; ++piece) {
    const auto* p = data + (piece ? half : 0);
    const std::size_t n = piece ? size - half : half;
    std::memcpy(buf.prepare(n), p, n);
    buf.commit(n);
    for (int i = 0; i < 1000; ++i) {
      smtpsd::smtp::reply r;
      auto st = parser.next(buf, r);
      if (st == smtpsd::smtp::reply_parser::status::reply) {
        auto caps = smtpsd::smtp::parse_ehlo(r);
        (void)caps;
        (void)r.summary();
        continue;
      }
      if (st == smtpsd::smtp::reply_parser::status::error) return 0;
      break;
    }
  }
  return 0;
}
