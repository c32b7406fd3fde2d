#include "store/spool.hpp"
#include "store/types.hpp"

namespace smtpsd::store {

std::string_view to_string(rcpt_status s) {
  switch (s) {
    case rcpt_status::queued: return "queued";
    case rcpt_status::deferred: return "deferred";
    case rcpt_status::delivered: return "delivered";
    case rcpt_status::failed: return "failed";
  }
  return "queued";
}

std::string spool_reader::read_all() {
  std::string out = header_section();
  out += "\r\n";
  char buf[65536];
  while (auto n = read_body(buf, sizeof buf)) out.append(buf, n);
  return out;
}

}  // namespace smtpsd::store
