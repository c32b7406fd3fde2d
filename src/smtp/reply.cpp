#include "smtp/reply.hpp"

#include <fmt/format.h>

namespace smtpsd::smtp {

void reply::append_to(std::string& wire) const {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    wire += std::to_string(code);
    wire += (i + 1 < lines.size()) ? '-' : ' ';
    if (!enhanced.empty()) {
      wire += enhanced;
      wire += ' ';
    }
    wire += lines[i];
    wire += "\r\n";
  }
  if (lines.empty()) {
    wire += std::to_string(code);
    wire += enhanced.empty() ? std::string() : " " + enhanced;
    wire += "\r\n";
  }
}

std::string reply::wire() const {
  std::string s;
  append_to(s);
  return s;
}

std::string reply::summary() const {
  std::string s = std::to_string(code);
  if (!enhanced.empty()) s += " " + enhanced;
  for (auto& l : lines) {
    s += ' ';
    s += l;
  }
  return s;
}

reply make_reply(int code, std::string_view enhanced, std::string_view text) {
  return reply{code, std::string(enhanced), {std::string(text)}};
}

}  // namespace smtpsd::smtp
