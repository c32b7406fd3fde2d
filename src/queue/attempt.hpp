#pragma once
// One delivery attempt of a message (the qmgr's fan-out): its due
// recipients grouped by next hop, one job per hop, the hops delivered at the
// same time by up to `max_parallel_hops` workers, so a slow or unreachable
// destination does not hold up the others and a message to many domains
// cannot open a connection per domain at once.
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/random.hpp"
#include "delivery/deliverer.hpp"
#include "store/types.hpp"

namespace smtpsd::queue {

struct hop_attempt {
  delivery::job job;
  std::vector<std::size_t> rcpts;           // indexes into the message's recipients, as job.rcpts
  std::vector<delivery::outcome> outcomes;  // one per rcpts entry; empty when the attempt broke off
  base::time_point finished{};
};

constexpr std::size_t max_parallel_hops = 8;

// The fields every job of the message shares (no recipients, no hop).
delivery::job common_job(const store::queued_message& m);

// One recipient's envelope sender (the VERP return path of SPEC §9).
using return_path_fn = std::function<std::string(const store::queued_message& m, const std::string& rcpt)>;

// The recipients due at `now`, grouped by the deliverer's next hop, in the
// order of their hop keys. With `return_path`, every recipient of a message
// with a sender gets its own job (and MAIL FROM); a bounce keeps <>. Pure.
std::vector<hop_attempt> plan_hops(const store::queued_message& m, base::time_point now, const delivery::deliverer& d,
                                   const delivery::job& common, const return_path_fn& return_path = {});

// Delivers every hop; fills outcomes (left empty when a hop broke off with an
// exception) and the time each finished.
net::awaitable<void> run_hops(delivery::deliverer& d, std::vector<hop_attempt>& hops, const base::clock& clock);

// What an attempt came to: the message with its recipients as they now
// stand, and the outcome of each recipient that was tried.
struct finished_attempt {
  store::queued_message m;
  std::string headers;  // the original's header section, for a DSN
  struct item {
    std::size_t index;  // into m.recipients
    delivery::outcome o;
    bool warn_delay = false;  // deferred, and a delay DSN is due (its delay_warned is set to now)
  };
  std::vector<item> items;
};

// Applies the hops' outcomes to the recipients: attempts counted, delivered
// and failed are final, deferred get their next attempt (the back-off of
// schedule.hpp, spread by `random`), and a deferral past max_queue_age fails
// as expired. nullopt when nothing was tried (stopping, or every hop broke off).
// A recipient still deferred `delay_warning` after its message arrived, or
// after its last delay DSN, is marked for one (if its NOTIFY wants delays);
// 0 turns delay DSNs off.
std::optional<finished_attempt> apply_outcomes(store::queued_message m, std::string headers,
                                               const std::vector<hop_attempt>& hops,
                                               std::chrono::seconds max_queue_age, base::random_source& random,
                                               std::chrono::seconds delay_warning = std::chrono::seconds(0));

}  // namespace smtpsd::queue
