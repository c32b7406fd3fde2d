#pragma once
// The client side of SMTP: assembles (multi-line) replies from a line buffer,
// with bounds, so a server that sends garbage or a 10 MB reply yields an
// error instead of unbounded memory.
#include <string>

#include "smtp/line_buffer.hpp"
#include "smtp/reply.hpp"

namespace smtpsd::smtp {

class reply_parser {
 public:
  enum class status { need_more, reply, error };
  static constexpr std::size_t max_line = 4096;
  static constexpr std::size_t max_lines = 256;

  // Takes lines from `in`; on status::reply, `out` holds one whole reply.
  status next(line_buffer& in, reply& out);
  const std::string& error() const { return error_; }

 private:
  reply partial_;
  bool started_ = false;
  std::string error_;
};

// "2.1.5 text" -> enhanced "2.1.5" and the rest; empty when absent.
std::pair<std::string, std::string> split_enhanced(std::string_view text, int code);

}  // namespace smtpsd::smtp
