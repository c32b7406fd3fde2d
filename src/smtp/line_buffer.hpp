#pragma once
// Input framing for SMTP command lines: CRLF-terminated, with a length limit.
// An over-long line is dropped up to its LF and reported once; a line ending
// in a bare LF is reported as such. Bytes after the current line stay
// buffered (PIPELINING) until the caller consumes or clears them.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace smtpsd::smtp {

class line_buffer {
 public:
  enum class status { line, need_more, too_long, bare_lf };
  struct result {
    status s;
    std::string_view line;  // without CRLF; valid until the next call that changes the buffer
  };

  // limit counts the CRLF.
  result next_line(std::size_t limit);

  // Space to read into, then commit what was read.
  char* prepare(std::size_t n);
  void commit(std::size_t n);

  std::string_view pending() const { return std::string_view(buf_.get() + pos_, size_ - pos_); }
  void consume(std::size_t n);
  void clear();  // drops everything buffered (STARTTLS)
  void release();  // frees the storage when nothing is buffered (an idle session)
  bool empty() const { return pos_ == size_; }

 private:
  // Not a std::string: resizing one zeroes the space a read is about to
  // fill, 16 KiB for every command of a session that went idle. malloc'd, and
  // up to base::block_cache::block_size taken from the thread's spares, as
  // release() gives it back there.
  struct give_back {
    void operator()(char* p) const noexcept;
  };
  std::unique_ptr<char, give_back> buf_;
  std::size_t cap_ = 0;
  std::size_t size_ = 0;
  std::size_t pos_ = 0;
  std::size_t committed_ = 0;
  bool discarding_ = false;
};

}  // namespace smtpsd::smtp
