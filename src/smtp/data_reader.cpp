#include "smtp/data_reader.hpp"

#include <cstring>

namespace smtpsd::smtp {

data_reader::data_reader(mode m, std::uint64_t max_bytes, std::size_t max_line)
    : mode_(m), max_bytes_(max_bytes), max_line_(max_line) {}

void data_reader::fail(error e) {
  // The reported error must not depend on how the input was split into
  // reads, so errors rank instead of "first wins": bare CR/LF (the smuggling
  // signal) above size above line length.
  auto rank = [](error x) {
    switch (x) {
      case error::none: return 0;
      case error::line_too_long: return 1;
      case error::too_big: return 2;
      case error::bare_cr_lf: return 3;
    }
    return 0;
  };
  if (rank(e) > rank(error_)) error_ = e;
}

void data_reader::emit(std::string& out, std::string_view bytes) {
  size_ += bytes.size();
  if (size_ > max_bytes_) fail(error::too_big);
  if (error_ == error::none) out.append(bytes);
}

void data_reader::count_line(std::size_t n) {
  line_len_ += n;
  if (line_len_ + 2 > max_line_) fail(error::line_too_long);
}

std::size_t data_reader::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  const std::size_t n = in.size();
  while (i < n && state_ != state::done) {
    const char c = in[i];
    switch (state_) {
      case state::line_start:
        line_len_ = 0;
        if (c == '.' && mode_ == mode::dot_terminated) {
          state_ = state::dot;
          ++i;
          continue;
        }
        state_ = state::in_line;
        continue;  // reprocess as in_line
      case state::dot:
        if (c == '\r') {
          state_ = state::dot_cr;
          ++i;
          continue;
        }
        // Dot-stuffed line: the leading dot is dropped.
        state_ = state::in_line;
        continue;
      case state::dot_cr:
        if (c == '\n') {
          state_ = state::done;
          ++i;
          continue;
        }
        // ".\r" followed by something else: a bare CR.
        fail(error::bare_cr_lf);
        state_ = state::cr;
        continue;  // the current char is reprocessed after a CR
      case state::in_line: {
        // Fast path: everything up to the next CR or LF, and on through
        // every CRLF whose next line (in this input) starts with no dot,
        // emitted as one span.
        const char* const start = in.data() + i;
        const char* const end = in.data() + n;
        const char* p = start;
        for (;;) {
          const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(end - p)));
          const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>((cr ? cr : end) - p)));
          const char* stop = lf ? lf : cr;
          const auto run = static_cast<std::size_t>((stop ? stop : end) - p);
          if (run > 0) count_line(run);
          if (stop && stop == cr && end - cr > 2 && cr[1] == '\n' && !(cr[2] == '.' && mode_ == mode::dot_terminated)) {
            line_len_ = 0;  // the next line
            p = cr + 2;
            continue;
          }
          p += run;
          break;
        }
        if (p > start) {
          emit(out, std::string_view(start, static_cast<std::size_t>(p - start)));
          i += static_cast<std::size_t>(p - start);
          continue;
        }
        if (c == '\r') {
          state_ = state::cr;
        } else {  // bare LF: an error, and not a line break
          fail(error::bare_cr_lf);
          count_line(1);
          emit(out, "\n");
        }
        ++i;
        continue;
      }
      case state::cr:
        if (c == '\n') {
          emit(out, "\r\n");
          state_ = state::line_start;
          ++i;
          continue;
        }
        fail(error::bare_cr_lf);
        count_line(1);
        emit(out, "\r");
        if (c == '\r') {
          ++i;  // stay in cr: this CR may be followed by LF
          continue;
        }
        state_ = state::in_line;
        continue;
      case state::done:
        break;
    }
  }
  return i;
}

void data_reader::finish(std::string& out) {
  switch (state_) {
    case state::line_start:
    case state::done:
      break;
    case state::cr:
    case state::dot_cr:
      fail(error::bare_cr_lf);
      break;
    case state::dot:
    case state::in_line:
      emit(out, "\r\n");
      break;
  }
  state_ = state::done;
}

}  // namespace smtpsd::smtp

#include "smtp/replies.hpp"

namespace smtpsd::smtp {
std::optional<reply> data_error_reply(data_reader::error e) {
  switch (e) {
    case data_reader::error::none: return std::nullopt;
    case data_reader::error::bare_cr_lf: return replies::bare_cr_lf_in_data();
    case data_reader::error::line_too_long: return replies::text_line_too_long();
    case data_reader::error::too_big: return replies::message_too_big();
  }
  return std::nullopt;
}
}  // namespace smtpsd::smtp
