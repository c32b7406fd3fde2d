#include "events/event.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "base/log.hpp"
#include "base/time_format.hpp"

namespace smtpsd::events {

namespace {
nlohmann::json str_or_null(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }
}  // namespace

std::string to_json(const event& e) {
  nlohmann::json j;
  j["type"] = e.type;
  j["time"] = base::rfc3339(e.time);
  j["queue_id"] = str_or_null(e.queue_id);
  j["message_id"] = str_or_null(e.message_id);
  j["account"] = str_or_null(e.account);
  j["from"] = e.type.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.from);  // "" is the null sender
  j["recipients"] = e.recipients;
  j["smtp_response"] = str_or_null(e.smtp_response);
  j["remote_mta"] = str_or_null(e.remote_mta);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

jsonl_sink::jsonl_sink(const std::filesystem::path& file) : file_(file) {
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error(file.string() + ": " + std::strerror(errno));
}

jsonl_sink::~jsonl_sink() {
  if (fd_ >= 0) ::close(fd_);
}

void jsonl_sink::emit(const event& e) {
  static auto log = base::logger("events");
  auto line = to_json(e);
  line += '\n';
  const auto n = ::write(fd_, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) log->error("{}: event not written: {}", file_.string(), std::strerror(errno));
}

}  // namespace smtpsd::events
