#pragma once
// Replay data: a queued message's row and its events, kept with its body in
// the spool (spool_writer::keep_replay), so that a queue which commits
// without its own sync can be made whole again at start-up after a power
// cut (docs/operations.md, "The spool"). A compact binary form, checked by
// a CRC32C of its own: [crc 4][version 1][message][event count][events].
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/event_store.hpp"
#include "store/queue_store.hpp"
#include "store/spool.hpp"
#include "store/types.hpp"

namespace smtpsd::store {

struct replay_entry {
  queued_message message;
  std::vector<stored_event> events;  // their seq is assigned again when stored
};

std::string encode_replay(const queued_message& m, std::span<const stored_event> events);
// nullopt when the data is torn, corrupt or of an unknown version.
std::optional<replay_entry> decode_replay(std::string_view data);

// queue_store::enqueue, and after it succeeded with a cover, the spool
// learns the position the queue recorded (spool::recorded), so that its
// compaction keeps replay data from there on. Every writer of covered
// commits (the group committer, the start-up replay) goes through here.
std::vector<std::int64_t> enqueue_covered(queue_store& queue, spool& bodies, std::span<const queued_message> batch,
                                          std::span<const stored_event> events, enqueue_lease lease,
                                          const std::optional<spool_cover>& cover);

}  // namespace smtpsd::store
