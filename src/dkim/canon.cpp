#include "dkim/canon.hpp"

#include <algorithm>
#include <cctype>

namespace smtpsd::dkim {

namespace {
bool wsp(char c) { return c == ' ' || c == '\t'; }
}  // namespace

std::string relaxed_header(std::string_view name, std::string_view value) {
  std::string out;
  out.reserve(name.size() + value.size() + 3);
  for (char c : name) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!out.empty() && wsp(out.back())) out.pop_back();
  out += ':';
  const std::size_t value_start = out.size();
  bool pending = false;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;  // unfold
    if (wsp(c)) {
      pending = true;
      continue;
    }
    if (pending && out.size() > value_start) out += ' ';  // leading whitespace goes
    pending = false;
    out += c;
  }
  out += "\r\n";
  return out;
}

void relaxed_body::end_line() {
  wsp_ = false;  // whitespace at the end of a line is ignored
  if (line_.empty()) {
    ++blank_lines_;
    return;
  }
  for (; blank_lines_ > 0; --blank_lines_) out_("\r\n");
  line_ += "\r\n";
  out_(line_);
  line_.clear();
}

void relaxed_body::update(std::string_view content) {
  for (char c : content) {
    if (cr_) {
      cr_ = false;
      if (c == '\n') {
        end_line();
        continue;
      }
      line_ += '\r';  // a CR that does not end a line is content
    }
    if (c == '\r') {
      cr_ = true;
    } else if (c == '\n') {
      end_line();  // bare LF: submission never lets one through, but do not choke
    } else if (wsp(c)) {
      wsp_ = true;
    } else {
      if (wsp_) line_ += ' ';
      wsp_ = false;
      line_ += c;
    }
  }
}

void relaxed_body::finish() {
  if (cr_) line_ += '\r';
  cr_ = false;
  if (!line_.empty()) end_line();
  blank_lines_ = 0;
}

}  // namespace smtpsd::dkim
