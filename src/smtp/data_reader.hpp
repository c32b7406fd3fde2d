#pragma once
// The message-content reader for DATA and BDAT.
//
// DATA: only <CRLF>.<CRLF> ends the content (the start of the content counts
// as following a CRLF). A bare CR or LF anywhere is an error but is never a
// line break, so "\n.\n", "\r\n.\n", "\n.\r\n" or "\r.\r\n" cannot end the
// message early (SMTP smuggling, CVE-2023-51764/5/6). Leading dots are
// unstuffed. BDAT: the same CRLF and line-length rules, no dots, no end
// marker; the caller says when the last chunk is in.
//
// After the first error the reader emits nothing more but keeps scanning so
// the session stays in step with the client.
#include <cstdint>
#include <string>
#include <string_view>

namespace smtpsd::smtp {

class data_reader {
 public:
  enum class mode { dot_terminated, chunked };
  enum class error { none, bare_cr_lf, line_too_long, too_big };

  data_reader(mode m, std::uint64_t max_bytes, std::size_t max_line = 1000);

  // Consumes input up to and including the end marker; appends unstuffed
  // content to out. Returns the number of octets consumed (less than
  // in.size() only when done() became true).
  std::size_t feed(std::string_view in, std::string& out);
  // Chunked mode: the last chunk has been fed. A message that does not end
  // in CRLF gets one; a trailing lone CR is an error.
  void finish(std::string& out);

  bool done() const { return state_ == state::done; }
  error err() const { return error_; }
  std::uint64_t size() const { return size_; }  // content octets, counted even past the limit

 private:
  enum class state { line_start, dot, dot_cr, in_line, cr, done };
  void fail(error e);
  void emit(std::string& out, std::string_view bytes);
  void count_line(std::size_t n);

  mode mode_;
  std::uint64_t max_bytes_;
  std::size_t max_line_;  // including CRLF
  state state_ = state::line_start;
  error error_ = error::none;
  std::uint64_t size_ = 0;
  std::size_t line_len_ = 0;
};

}  // namespace smtpsd::smtp

#include <optional>

#include "smtp/reply.hpp"

namespace smtpsd::smtp {
// The reply for a content error; nullopt for error::none.
std::optional<reply> data_error_reply(data_reader::error e);
}  // namespace smtpsd::smtp
