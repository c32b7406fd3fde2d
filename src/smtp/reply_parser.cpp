#include "smtp/reply_parser.hpp"

#include <fmt/format.h>

#include "base/strings.hpp"

namespace smtpsd::smtp {

std::pair<std::string, std::string> split_enhanced(std::string_view text, int code) {
  // class "." subject "." detail, where class matches the reply's first digit
  std::size_t i = 0;
  auto digits = [&](std::size_t max) {
    std::size_t start = i;
    while (i < text.size() && i - start < max && text[i] >= '0' && text[i] <= '9') ++i;
    return i - start;
  };
  if (digits(1) == 1 && i < text.size() && text[i] == '.' && (++i, digits(3) >= 1) && i < text.size() &&
      text[i] == '.' && (++i, digits(3) >= 1) && (i == text.size() || text[i] == ' ') &&
      text[0] - '0' == code / 100) {
    auto rest = i < text.size() ? text.substr(i + 1) : std::string_view{};
    return {std::string(text.substr(0, i)), std::string(rest)};
  }
  return {std::string(), std::string(text)};
}

reply_parser::status reply_parser::next(line_buffer& in, reply& out) {
  for (;;) {
    auto r = in.next_line(max_line);
    switch (r.s) {
      case line_buffer::status::need_more:
        return status::need_more;
      case line_buffer::status::too_long:
        error_ = "reply line too long";
        return status::error;
      case line_buffer::status::bare_lf:  // tolerated from servers: many send LF only
      case line_buffer::status::line:
        break;
    }
    auto line = r.line;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
        !std::isdigit(static_cast<unsigned char>(line[1])) || !std::isdigit(static_cast<unsigned char>(line[2])) ||
        line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      error_ = fmt::format("malformed reply line \"{}\"", base::printable(line, 80));
      return status::error;
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    const bool more = line.size() > 3 && line[3] == '-';
    auto text = line.size() > 4 ? line.substr(4) : std::string_view{};
    if (!started_) {
      partial_ = reply{code, "", {}};
      started_ = true;
    } else if (code != partial_.code) {
      error_ = "reply code changed within a multi-line reply";
      return status::error;
    }
    if (partial_.lines.size() >= max_lines) {
      error_ = "reply has too many lines";
      return status::error;
    }
    auto [enh, rest] = split_enhanced(text, code);
    if (partial_.lines.empty()) partial_.enhanced = enh;
    partial_.lines.push_back(enh.empty() || enh != partial_.enhanced ? std::string(text) : rest);
    if (!more) {
      out = std::move(partial_);
      started_ = false;
      return status::reply;
    }
  }
}

}  // namespace smtpsd::smtp
