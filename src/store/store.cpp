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

std::string encode_tags(const std::vector<std::pair<std::string, std::string>>& tags) {
  std::string out;
  for (auto& [k, v] : tags) {
    if (!out.empty()) out += '\n';
    out.append(k).append("=").append(v);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> decode_tags(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto item = text.substr(0, nl);
    auto eq = item.find('=');
    if (eq != std::string_view::npos) out.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::string encode_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (auto& l : lines) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return out;
}

std::vector<std::string> decode_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (auto item = text.substr(0, nl); !item.empty()) out.emplace_back(item);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::string spool_reader::read_all() {
  std::string out = header_section();
  out += "\r\n";
  char buf[65536];
  while (auto n = read_body(buf, sizeof buf)) out.append(buf, n);
  return out;
}

}  // namespace smtpsd::store
