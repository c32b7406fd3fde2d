#pragma once
// What follows a recorded attempt (Postfix's bounce and the qmgr's
// bookkeeping): one event per kind of result, the delivery metrics, the
// bodies of finished messages dropped, hard-bounced addresses put on the
// suppression list, and one DSN per message for the recipients that failed
// in this attempt (RFC 3461: unless NOTIFY excludes FAILURE, and never for a
// bounce itself), queued through submission.
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/random.hpp"
#include "events/event.hpp"
#include "message/dsn.hpp"
#include "net/worker_pool.hpp"
#include "queue/attempt.hpp"
#include "store/stores.hpp"
#include "submission/queue_writer.hpp"

namespace smtpsd::queue {

// One event per kind of result (delivery, delivery_delay, bounce), naming
// its recipients. Pure.
std::vector<events::event> attempt_events(const finished_attempt& f, base::time_point now);

// The failure report for the sender, or nullopt when none is due. Pure: the
// DSN's own id comes in.
std::optional<submission::generated_message> failure_dsn(const finished_attempt& f, const std::string& hostname,
                                                          const std::string& dsn_id, base::time_point now);

class bounces {
 public:
  bounces(store::stores stores, net::worker_pool& pool, events::sink& events, submission::queue_writer& writer,
          const base::clock& clock, base::random_source& random, std::string hostname);

  // After a batch was recorded; removed[i]: the batch[i] message left the queue.
  net::awaitable<void> after_recorded(const std::vector<finished_attempt>& batch, const std::vector<bool>& removed);

 private:
  void report(const finished_attempt& f, bool removed);
  net::awaitable<void> tidy(const std::vector<finished_attempt>& batch, const std::vector<bool>& removed);

  store::stores stores_;
  net::worker_pool& pool_;
  events::sink& events_;
  submission::queue_writer& writer_;
  const base::clock& clock_;
  base::random_source& random_;
  std::string hostname_;
};

}  // namespace smtpsd::queue
