#pragma once
// Where the queue manager meets submission, the one writer into the queue
// (as Postfix's bounce daemon hands its DSNs to cleanup): mail smtpsd writes
// itself goes in through here, and the queue manager hears of every message
// committed, so it looks at once instead of at its next tick.
#include <functional>
#include <string>

namespace smtpsd::submission {

struct generated_message {
  std::string from;     // "" for a DSN
  std::string to;
  std::string content;  // header section, blank line, body; CRLF
};

class queue_writer {
 public:
  virtual ~queue_writer() = default;
  // Queues mail smtpsd writes itself (delivery status notifications): no
  // policy, no fix-ups beyond what `content` has. Blocking (spool write):
  // call it on the worker pool. done(queue id, or "" when it failed) runs on
  // the committer thread.
  virtual void enqueue_generated(const generated_message& m, std::function<void(const std::string&)> done = {}) = 0;
  // f runs on the committer thread after each message is committed; an empty
  // f stops the calls.
  virtual void on_committed(std::function<void()> f) = 0;
};

}  // namespace smtpsd::submission
