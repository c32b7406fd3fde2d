#pragma once
// What follows a recorded attempt (Postfix's bounce and the qmgr's
// bookkeeping): one event per kind of result, the delivery metrics, the
// bodies of finished messages dropped, hard-bounced addresses put on the
// suppression list, and one DSN per message for the recipients that failed
// in this attempt (RFC 3461: unless NOTIFY excludes FAILURE, and never for a
// bounce itself), queued through submission.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/metrics.hpp"
#include "base/random.hpp"
#include "events/event.hpp"
#include "message/dsn.hpp"
#include "net/worker_pool.hpp"
#include "policy/reputation.hpp"
#include "queue/attempt.hpp"
#include "store/stores.hpp"
#include "submission/queue_writer.hpp"

namespace smtpsd::queue {

// What the events of an attempt need besides the attempt.
struct event_context {
  base::time_point now{};
  std::chrono::seconds max_queue_age{0};  // for a delay's expirationTime
  bool headers = false;                   // keep the header fields (an SES-format webhook wants them)
  std::function<std::string()> next_id;   // a new event id
};

// The events of an attempt: one delivery event for the recipients
// delivered, one delivery_delay for those deferred, and one bounce per
// bounce class (type and sub-type) for those that failed, each naming its
// recipients with their status and the reply. Pure.
std::vector<events::event> attempt_events(const finished_attempt& f, const event_context& ctx);

// The sender's one DSN of a delivery round: the recipients that failed (if
// their NOTIFY wants failures) and those due a delay warning; nullopt when
// none is due. Pure: the DSN's own id comes in.
std::optional<submission::generated_message> round_dsn(const finished_attempt& f, const std::string& hostname,
                                                       const std::string& dsn_id, base::time_point now);

// The queue's metrics, each defined once.
base::counter& deliveries_metric(delivery::outcome_kind k);  // smtpsd_deliveries_total{result}
base::histogram& attempt_seconds_metric();
base::counter& corrupt_entries_metric();
// smtpsd_queue_messages, read from `size` when /metrics is read, for as long
// as the returned registration lives.
base::gauge_callback queue_size_gauge(std::function<double()> size);
// Every series at zero (start-up).
void register_metrics();

class bounces {
 public:
  bounces(store::stores stores, net::worker_pool& pool, events::sink& events, submission::queue_writer& writer,
          const base::clock& clock, base::random_source& random, std::string hostname,
          std::chrono::seconds max_queue_age);

  // Ended deliveries and hard bounces count toward the accounts' reputation.
  void use_reputation(policy::reputation_monitor* r) { reputation_ = r; }
  // The events of each attempt of a batch, to be recorded with it.
  std::vector<std::vector<events::event>> events_for(const std::vector<finished_attempt>& batch);
  // After a batch was recorded with its events; removed[i]: the batch[i]
  // message left the queue.
  net::awaitable<void> after_recorded(const std::vector<finished_attempt>& batch, const std::vector<bool>& removed,
                                      const std::vector<std::vector<events::event>>& events);

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
  std::chrono::seconds max_queue_age_;
  policy::reputation_monitor* reputation_ = nullptr;
};

}  // namespace smtpsd::queue
