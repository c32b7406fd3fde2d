#pragma once
// Where the queue manager meets submission, the one writer into the queue
// (as Postfix's bounce daemon hands its DSNs to cleanup): mail smtpsd writes
// itself goes in through here, and messages just committed go the other way,
// straight into delivery.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "store/types.hpp"

namespace smtpsd::submission {

struct generated_message {
  std::string from;     // "" for a DSN
  std::string to;
  std::string content;  // header section, blank line, body; CRLF
};

// A message committed under a lease, as delivery gets it.
struct committed_message {
  store::queued_message meta;  // lease_token set
  std::string headers;         // the header section
  // The whole message when the spool held it in memory anyway; nullptr: read
  // it from the spool.
  std::shared_ptr<const std::string> content;
};

// The queue manager's side of each commit. Before it, the committer asks
// how many of the batch delivery has room for; those are leased to this node
// in the transaction that queues them and handed over committed, so delivery
// starts without claiming them from the queue. Of the others, the queue
// manager hears, so it claims them at once instead of at its next tick.
class committed_mail {
 public:
  struct room {
    std::size_t count = 0;
    base::time_point lease_until{};
  };
  virtual ~committed_mail() = default;
  // On the committer thread, before a batch of `wanted` is committed. What it
  // reserves is given back by taken().
  virtual room reserve(std::size_t wanted) = 0;
  // After the commit: the messages committed under a lease (lease_token
  // set), the reserved room left unused, and whether messages were committed
  // without a lease.
  virtual void taken(std::vector<committed_message> leased, std::size_t unused, bool others) = 0;
};

class queue_writer {
 public:
  virtual ~queue_writer() = default;
  // Queues mail smtpsd writes itself (delivery status notifications): no
  // policy, no fix-ups beyond what `content` has. Blocking (spool write):
  // call it on the worker pool. done(queue id, or "" when it failed) runs on
  // the committer thread.
  virtual void enqueue_generated(const generated_message& m, std::function<void(const std::string&)> done = {}) = 0;
  // Where committed mail goes from now on (nullptr: nowhere). Once this
  // returns, no call to the one before is running or will be made.
  virtual void on_committed(committed_mail* to) = 0;
};

}  // namespace smtpsd::submission
