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

void journal::write(const event& e) {
  static auto log = base::logger("events");
  auto line = to_json(e);
  line += '\n';
  const auto n = ::write(fd_, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) log->error("{}: event not written: {}", file_.string(), std::strerror(errno));
}

}  // namespace smtpsd::events
