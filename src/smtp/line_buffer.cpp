#include "smtp/line_buffer.hpp"

#include <cstring>

namespace smtpsd::smtp {

line_buffer::result line_buffer::next_line(std::size_t limit) {
  for (;;) {
    const char* start = data_.data() + pos_;
    const std::size_t avail = data_.size() - pos_;
    const char* lf = static_cast<const char*>(std::memchr(start, '\n', avail));
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
  if (pos_ > 0 && pos_ == data_.size()) {
    data_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > data_.size()) {
    data_.erase(0, pos_);
    pos_ = 0;
  }
  committed_ = data_.size();
  data_.resize(committed_ + n);
  return data_.data() + committed_;
}

void line_buffer::commit(std::size_t n) { data_.resize(committed_ + n); }

void line_buffer::consume(std::size_t n) { pos_ += std::min(n, data_.size() - pos_); }

void line_buffer::release() {
  if (pos_ < data_.size()) return;
  std::string().swap(data_);
  pos_ = 0;
  committed_ = 0;
}

void line_buffer::clear() {
  data_.clear();
  pos_ = 0;
}

}  // namespace smtpsd::smtp
