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

namespace {
// A line (without its CRLF) that relaxed canonicalization leaves as it is:
// not empty, no tab, no CR, no run of spaces, no space at the end.
bool unchanged_by_relaxed(std::string_view line) {
  if (line.empty() || line.back() == ' ') return false;
  char prev = 0;
  for (char c : line) {
    if (c == '\t' || c == '\r' || (c == ' ' && prev == ' ')) return false;
    prev = c;
  }
  return true;
}
}  // namespace

void relaxed_body::update(std::string_view content) {
  while (!content.empty()) {
    // Between lines, the lines that stay as they are go out as one span of
    // the input; the others, byte by byte, below.
    if (!cr_ && !wsp_ && line_.empty()) {
      std::size_t run = 0;
      for (;;) {
        const auto nl = content.find('\n', run);
        if (nl == std::string_view::npos || nl == run || content[nl - 1] != '\r' ||
            !unchanged_by_relaxed(content.substr(run, nl - 1 - run)))
          break;
        run = nl + 1;
      }
      if (run > 0) {
        for (; blank_lines_ > 0; --blank_lines_) out_("\r\n");
        out_(content.substr(0, run));
        content.remove_prefix(run);
        continue;
      }
    }
    const auto nl = content.find('\n');
    const auto upto = nl == std::string_view::npos ? content.size() : nl + 1;
    update_bytes(content.substr(0, upto));
    content.remove_prefix(upto);
  }
}

void relaxed_body::update_bytes(std::string_view content) {
  for (char c : content) {
    if (cr_) {
      cr_ = false;
      if (c == '\n') {
        end_line();
        continue;
      }
      content_cr();
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

// A CR that does not end a line is content like any other: it ends a run of
// whitespace, which becomes one space before it.
void relaxed_body::content_cr() {
  if (wsp_) line_ += ' ';
  wsp_ = false;
  line_ += '\r';
}

void relaxed_body::finish() {
  if (cr_) content_cr();
  cr_ = false;
  if (!line_.empty()) end_line();
  blank_lines_ = 0;
}

}  // namespace smtpsd::dkim
