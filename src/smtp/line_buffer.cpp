#include "smtp/line_buffer.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "base/block_cache.hpp"

namespace smtpsd::smtp {

void line_buffer::give_back::operator()(char* p) const noexcept { base::block_cache::give(p); }

line_buffer::result line_buffer::next_line(std::size_t limit) {
  for (;;) {
    const char* start = buf_.get() + pos_;
    const std::size_t avail = size_ - pos_;
    const char* lf = avail ? static_cast<const char*>(std::memchr(start, '\n', avail)) : nullptr;
    if (discarding_) {
      if (!lf) {
        clear();
        return {status::need_more, {}};
      }
      consume(static_cast<std::size_t>(lf - start) + 1);
      discarding_ = false;
      return {status::too_long, {}};
    }
    if (!lf) {
      if (avail >= limit) {  // cannot become a valid line: drop it up to its LF
        discarding_ = true;
        continue;
      }
      return {status::need_more, {}};
    }
    const std::size_t len = static_cast<std::size_t>(lf - start) + 1;  // with the LF
    if (len > limit) {
      consume(len);
      return {status::too_long, {}};
    }
    std::string_view line(start, len - 1);
    consume(len);
    if (line.empty() || line.back() != '\r') return {status::bare_lf, line};
    line.remove_suffix(1);
    return {status::line, line};
  }
}

char* line_buffer::prepare(std::size_t n) {
  if (pos_ > 0 && pos_ == size_) {
    size_ = 0;
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > size_) {
    std::memmove(buf_.get(), buf_.get() + pos_, size_ - pos_);
    size_ -= pos_;
    pos_ = 0;
  }
  if (size_ + n > cap_ || !buf_) {  // never null, even for n == 0: callers memcpy into it
    std::size_t cap = std::max({size_ + n, cap_ * 2, std::size_t{1}});
    void* block = nullptr;
    if (cap <= base::block_cache::block_size) {
      cap = base::block_cache::block_size;
      block = base::block_cache::take();
    } else {
      block = std::malloc(cap);
    }
    if (!block) throw std::bad_alloc();
    std::unique_ptr<char, give_back> bigger(static_cast<char*>(block));
    if (size_ > 0) std::memcpy(bigger.get(), buf_.get(), size_);
    buf_ = std::move(bigger);
    cap_ = cap;
  }
  committed_ = size_;
  return buf_.get() + committed_;
}

void line_buffer::commit(std::size_t n) { size_ = committed_ + n; }

void line_buffer::consume(std::size_t n) { pos_ += std::min(n, size_ - pos_); }

void line_buffer::release() {
  if (pos_ < size_) return;
  buf_.reset();
  cap_ = 0;
  size_ = 0;
  pos_ = 0;
  committed_ = 0;
}

void line_buffer::clear() {
  size_ = 0;
  pos_ = 0;
}

}  // namespace smtpsd::smtp
