#pragma once
// DATA_DIR/events.jsonl: one line per event in the smtpsd format, each
// written with one write() on an O_APPEND descriptor, so lines from several
// threads never interleave. For people and log shippers; the webhooks read
// the event store, which is the durable log.
#include <filesystem>

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

 private:
  std::filesystem::path file_;
  int fd_ = -1;
};

}  // namespace smtpsd::events
