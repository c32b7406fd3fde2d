#pragma once
// What happened to a message, one event per step (SPEC §5): every field is
// present on every event, null where unknown.
#include <memory>
#include <mutex>
#include <filesystem>
#include <string>
#include <vector>

#include "base/clock.hpp"

namespace smtpsd::events {

struct event {
  std::string type;  // send, reject, delivery, bounce, delivery_delay
  base::time_point time{};
  std::string queue_id;
  std::string message_id;
  std::string account;
  std::string from;  // envelope sender
  std::vector<std::string> recipients;
  std::string smtp_response;
  std::string remote_mta;
};

// One JSON object, no newline; empty strings become null.
std::string to_json(const event& e);

class sink {
 public:
  virtual ~sink() = default;
  // Never throws and never blocks for long (a buffered append).
  virtual void emit(const event& e) = 0;
};

// Appends one line per event to a file (DATA_DIR/events.jsonl), each line
// written with one write() on an O_APPEND descriptor, so lines from several
// threads never interleave.
class jsonl_sink final : public sink {
 public:
  // Throws std::runtime_error naming the file.
  explicit jsonl_sink(const std::filesystem::path& file);
  ~jsonl_sink() override;
  void emit(const event& e) override;

 private:
  std::filesystem::path file_;
  int fd_ = -1;
};

class null_sink final : public sink {
 public:
  void emit(const event&) override {}
};

}  // namespace smtpsd::events
