#pragma once
// The durable event log that webhooks read (SPEC §5): events in the order
// they were stored, each with a sequence number; one cursor per consumer (a
// webhook) below which everything is done; dead letters, kept with their
// reason until redelivered. Events reporting a queue change are written in
// the queue's own transaction (queue_store::enqueue, record_attempts), so a
// change and its event are stored together or not at all. Calls block: run
// them on the worker pool.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/types.hpp"

namespace smtpsd::store {

struct stored_event {
  std::int64_t seq = 0;  // assigned by the store, increasing
  std::string id;        // event_id
  time_point time{};
  std::string type;
  std::string account;
  std::string configuration_set;
  std::uint32_t recipients = 0;  // for the statistics
  std::string record;  // the whole event (events::to_record)
};

struct event_query {
  std::string type;     // "" = any
  std::string account;  // "" = any
  std::optional<time_point> since, until;
  std::int64_t before_seq = 0;  // page: only events older than this (0 = from the newest)
  std::size_t limit = 100;
};

struct dead_letter {
  std::string consumer;
  stored_event event;
  std::string reason;
  time_point when{};
  bool redeliver = false;  // asked for with `smtpsd events redeliver`
};

// Counts of one type of event in one 15-minute bucket (SES's
// GetSendStatistics data points), kept as events are stored.
struct stat_bucket {
  time_point start{};  // a multiple of 15 minutes
  std::string type;
  std::uint64_t events = 0;
  std::uint64_t recipients = 0;
};

class event_store {
 public:
  virtual ~event_store() = default;

  // Appends in one transaction; returns the sequence numbers given.
  virtual std::vector<std::int64_t> append(std::span<const stored_event> events) = 0;
  // Oldest first.
  virtual std::vector<stored_event> read_after(std::int64_t seq, std::size_t limit) = 0;
  virtual std::int64_t last_seq() = 0;
  // Newest first.
  virtual std::vector<stored_event> query(const event_query& q) = 0;

  virtual std::optional<std::int64_t> cursor(std::string_view consumer) = 0;
  virtual void set_cursor(std::string_view consumer, std::int64_t seq) = 0;

  // Replaces an earlier dead letter of the same event for the consumer.
  virtual void add_dead_letter(std::string_view consumer, std::int64_t seq, std::string_view reason,
                               time_point when) = 0;
  // consumer "" = every consumer's.
  virtual std::vector<dead_letter> dead_letters(std::string_view consumer) = 0;
  // Marks dead letters for redelivery: one (by event id) or, with an empty
  // id, all of the consumer's ("" = every consumer). Returns how many.
  virtual std::size_t request_redelivery(std::string_view consumer, std::string_view event_id) = 0;
  virtual void remove_dead_letter(std::string_view consumer, std::int64_t seq) = 0;

  // Drops events older than `before` that every cursor has passed and no
  // dead letter holds. Returns how many.
  virtual std::size_t prune(time_point before) = 0;
  virtual void prune_statistics(time_point before) = 0;

  // Takes or keeps `role` for this node until `until`; false while another
  // node holds it (and its hold has not run out at `now`). One node sends
  // the webhooks, so several nodes do not post every event several times.
  // One node's store: always true.
  virtual bool hold_role(std::string_view role, time_point now, time_point until) = 0;

  // The 15-minute buckets since `since` (oldest first), of one account or
  // ("") of all.
  virtual std::vector<stat_bucket> statistics(time_point since, std::string_view account) = 0;
};

}  // namespace smtpsd::store
