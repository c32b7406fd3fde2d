// RFC 5321/6531 paths and mailboxes, and RFC 5322 address lists.
#include <cstdint>
#include <string_view>

#include "message/address_list.hpp"
#include "smtp/address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto p = smtpsd::smtp::parse_path(in, true);
  (void)p;
  if (auto m = smtpsd::smtp::parse_mailbox(in)) {
    // What parses must print back to something that parses to the same.
    auto again = smtpsd::smtp::parse_mailbox(m->str());
    if (!again || again->str() != m->str()) __builtin_trap();
  }
  (void)smtpsd::smtp::is_valid_domain(in);
  (void)smtpsd::message::parse_address_list(in);
  return 0;
}
