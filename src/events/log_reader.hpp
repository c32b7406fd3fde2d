#pragma once
// The event log as the webhooks see it: read from the store once for all of
// them, in batches of a few hundred rows, on the dispatcher's own thread
// (that thread serves only webhooks, so a batched read there delays no
// session), and the last few thousand rows kept in memory; a webhook that
// falls further behind reads from the store again. One thread only.
#include <deque>
#include <memory>
#include <vector>

#include "store/event_store.hpp"

namespace smtpsd::events {

class log_reader {
 public:
  using row = std::shared_ptr<const store::stored_event>;
  explicit log_reader(std::shared_ptr<store::event_store> store) : store_(std::move(store)) {}

  // Up to `max` rows after `seq`, oldest first; reads the store when they
  // are not in memory yet. Throws store_error.
  std::vector<row> after(std::int64_t seq, std::size_t max);
  // The store's last sequence number (a store call).
  std::int64_t last_seq() { return store_->last_seq(); }

 private:
  static constexpr std::size_t batch = 512;
  static constexpr std::size_t held_at_most = 4096;
  std::shared_ptr<store::event_store> store_;
  std::deque<row> rows_;   // in seq order
  std::int64_t held_from_ = 0;
  std::int64_t read_up_to_ = -1;  // the store has been read up to here (-1: not yet)
};

}  // namespace smtpsd::events
