#include "events/journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "base/log.hpp"

namespace smtpsd::events {

journal::journal(const std::filesystem::path& file) : file_(file) {
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error(file.string() + ": " + std::strerror(errno));
}

journal::~journal() {
  if (fd_ >= 0) ::close(fd_);
}

void journal::write(const event& e) { write(std::span<const event>(&e, 1)); }

void journal::write(std::span<const event> events) {
  static auto log = base::logger("events");
  if (events.empty()) return;
  std::string lines;
  lines.reserve(events.size() * 1024);  // one allocation: a line is about 700 octets
  for (const auto& e : events) {
    if (!e.journal_line.empty()) {
      lines += e.journal_line;
      continue;
    }
    append_json(lines, e);
    lines += '\n';
  }
  const auto n = ::write(fd_, lines.data(), lines.size());
  if (n != static_cast<ssize_t>(lines.size()))
    log->error("{}: {} events not written: {}", file_.string(), events.size(), n < 0 ? std::strerror(errno) : "short write");
}

}  // namespace smtpsd::events
