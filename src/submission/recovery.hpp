#pragma once
#include <optional>

#include "base/clock.hpp"
#include "store/stores.hpp"

namespace smtpsd::submission {

// A body without queue metadata belongs to a message that never got its 250
// (the process died between spool and commit) or whose queue row another
// process removed (`queue remove` while the server runs); it is removed.
// At start-up every such body goes; while serving, only those made before
// `made_before` (a message between its spool sync and its commit has a body
// and no row yet). Returns how many were removed.
std::size_t remove_unqueued_bodies(store::stores& s, std::optional<base::time_point> made_before = std::nullopt);

// At start-up, before the above: a queue that commits without its own sync
// (store::queue_store::enqueue with a replayable cover) may have lost its
// last commits to a power cut. Every body the spool kept past the position
// the queue recorded that has replay data and no row is queued again, with
// its events, in commits that sync; the last records a position past the
// last body listed, so that a later start-up does not list them again (a
// message delivered meanwhile has no row, and would be queued twice). The
// spool learns the position the queue recorded (store::spool::recorded).
// Returns how many were queued again.
std::size_t replay_lost_rows(store::stores& s);

}  // namespace smtpsd::submission
