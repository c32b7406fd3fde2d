#pragma once
// Queue metadata: envelopes and per-recipient delivery state. Bodies live in
// the spool. Calls block: run them on the worker pool.
#include <cstdint>
#include <optional>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "store/event_store.hpp"
#include "store/spool.hpp"
#include "store/types.hpp"

namespace smtpsd::store {

struct queue_query {
  std::string after;                  // the last id of the previous page; "" = from the start
  std::size_t limit = 100;
  std::string account;                // "" = any
  std::optional<rcpt_status> status;  // only messages with a recipient in this state
  std::string recipient;              // only messages to this address (compared in lower case)
};

// What record_attempts did with one message.
enum class recorded { open, finished, lost };

// A lease held: the message and the token it was claimed with.
struct lease_ref {
  std::string id;
  std::int64_t token = 0;
};

// A lease taken as messages are queued (enqueue): the first `count` of the
// batch are leased to this node until `until`, each with a new fencing token,
// in the transaction that queues them. Delivery then starts on them at once,
// as if claim_due had returned them, with no claim of its own.
struct enqueue_lease {
  std::size_t count = 0;
  time_point until{};
};

// What the spool kept of a batch just synced: where its writes ended
// (spool::synced_through), and whether every message of the batch kept its
// replay data there (spool_writer::keep_replay).
struct spool_cover {
  spool_position through;
  bool replayable = false;
};

class queue_store {
 public:
  virtual ~queue_store() = default;

  // All messages in one transaction: every one is committed, or none. Each
  // message's recipients count toward its account's 24-hour usage in the
  // same transaction, so the quota survives a restart; `events` (their send
  // events) are appended to the event log in it too. Returns the fencing
  // tokens of the messages `lease` leased, in batch order (none without one).
  // With a `cover`, a store that keeps spool positions records its `through`
  // in the same transaction, and when the batch is `replayable` may commit
  // it without a sync of its own: after a power cut, start-up re-queues what
  // the spool kept past the position recorded (replayed_through).
  virtual std::vector<std::int64_t> enqueue(std::span<const queued_message> batch,
                                            std::span<const stored_event> events = {}, enqueue_lease lease = {},
                                            std::optional<spool_cover> cover = std::nullopt) = 0;
  // The spool position the last covered enqueue recorded; nullopt for a
  // store that records none (its every commit is durable on its own). Only
  // with one may a writer answer for a batch before its rows are committed,
  // on the strength of the replay data the spool synced.
  virtual std::optional<spool_position> replayed_through() { return std::nullopt; }
  // Per-minute recipient counts of an account since `since`, oldest first.
  virtual std::vector<usage_bucket> usage(std::int64_t account_id, time_point since) = 0;
  virtual std::optional<queued_message> get(std::string_view id) = 0;
  // A page of the queue, oldest first (ids sort by creation time), from
  // after the cursor `q.after`; fast at a million entries.
  virtual std::vector<queued_message> list(const queue_query& q) = 0;
  // Oldest first; limit 0 = all.
  std::vector<queued_message> list(std::size_t limit) {
    queue_query q;
    q.limit = limit ? limit : SIZE_MAX;
    return list(q);
  }
  virtual bool remove(std::string_view id) = 0;
  virtual std::size_t count() = 0;
  virtual std::vector<std::string> ids() = 0;
  // Makes deferred recipients due at `now`: one message, or all when id is empty.
  virtual std::size_t retry(std::string_view id, time_point now) = 0;

  // Delivery. Messages with a recipient due at `now` that no delivery holds
  // (no lease, or one that ran out), each leased to this node until
  // `lease_until` with a new fencing token (queued_message::lease_token).
  // Mail never tried and retries share `limit` half and half, so a backlog of
  // retries cannot starve new mail (nor the reverse). With several nodes on
  // one store, each message goes to one of them.
  virtual std::vector<queued_message> claim_due(time_point now, time_point lease_until, std::size_t limit) = 0;
  // Extends leases this node still holds (id and token match) to
  // `lease_until`, so a delivery longer than the lease is not taken over.
  // Returns, per entry, whether it was still held.
  virtual std::vector<bool> renew_leases(std::span<const lease_ref> held, time_point lease_until) = 0;
  // Records attempts, all in one transaction: each message's recipients as
  // they now stand (matched by position), and its lease released, with
  // events[i] (what batch[i]'s attempt came to) appended to the event log. A
  // message whose lease_token is no longer its token was taken over by
  // another delivery: nothing of it is recorded (`lost`, its events dropped).
  // A message with no recipient left to deliver is removed (`finished`: the
  // caller drops the body).
  virtual std::vector<recorded> record_attempts(std::span<const queued_message> batch,
                                                std::span<const std::vector<stored_event>> events = {}) = 0;
  recorded record_attempt(const queued_message& m) { return record_attempts(std::span(&m, 1)).front(); }
  // Releases this node's leases (at start-up: nothing of this node can hold
  // one any more). Other nodes' leases stay until they run out.
  virtual void release_leases() = 0;
};

}  // namespace smtpsd::store
