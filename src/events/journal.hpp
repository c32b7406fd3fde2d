#pragma once
// DATA_DIR/events.jsonl: one line per event in the smtpsd format. A batch
// of lines (a group commit's events) goes out in one write() on an O_APPEND
// descriptor, so lines from several threads never interleave. For people and log shippers; the webhooks read
// the event store, which is the durable log.
#include <filesystem>
#include <span>

#include "events/event.hpp"

namespace smtpsd::events {

class journal {
 public:
  // Throws std::runtime_error naming the file.
  explicit journal(const std::filesystem::path& file);
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;
  void write(const event& e);
  void write(std::span<const event> events);

 private:
  std::filesystem::path file_;
  int fd_ = -1;
};

}  // namespace smtpsd::events
