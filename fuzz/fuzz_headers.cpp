// Header sections: the splitter on streamed content, the parser, the
// submission fix-ups and folding, as a message arrives from a client.
#include <cstdint>
#include <string_view>

#include "message/fixups.hpp"
#include "message/headers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  smtpsd::message::header_splitter split(64 * 1024);
  auto rest = split.feed(in.substr(0, size / 3));
  if (!split.header_done()) rest = split.feed(in.substr(size / 3));
  split.finish();
  (void)rest;
  auto fields = smtpsd::message::parse_header_section(split.section());
  if (!fields) return 0;
  for (auto& f : *fields) {
    auto u = smtpsd::message::unfold(f.value);
    auto folded = smtpsd::message::fold_field(f.name, u);
    if (!smtpsd::message::parse_header_section(folded)) __builtin_trap();  // folding keeps it a field
  }
  smtpsd::message::trace_info t;
  t.hostname = "mail.example.com";
  t.helo = "client.example";
  t.client_ip = "192.0.2.1";
  t.queue_id = "06H0BWCP3SB0ABTB";
  auto fixed = smtpsd::message::apply_submission_fixups(split.section(), t);
  if (fixed && !smtpsd::message::parse_header_section(fixed->section)) __builtin_trap();
  return 0;
}
