#pragma once
// The last few thousand events, kept in memory by id, so a webhook renders
// its body from the event itself instead of parsing the stored record back:
// an event is usually sent within milliseconds of being stored. Anything not
// here (after a restart, a long outage) is read from the record as usual.
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "events/event.hpp"

namespace smtpsd::events {

class recent_events {
 public:
  explicit recent_events(std::size_t capacity = 4096) : capacity_(capacity) {}
  void add(const event& e) {
    auto copy = std::make_shared<event>(e);
    std::string().swap(copy->journal_line);  // the journal's, not needed here
    std::shared_ptr<const event> shared = std::move(copy);
    std::lock_guard l(mu_);
    if (!by_id_.emplace(e.id, std::move(shared)).second) return;
    order_.push_back(e.id);
    if (order_.size() > capacity_) {
      by_id_.erase(order_.front());
      order_.pop_front();
    }
  }
  std::shared_ptr<const event> find(const std::string& id) const {
    std::lock_guard l(mu_);
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
  }

 private:
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const event>> by_id_;
  std::deque<std::string> order_;
};

}  // namespace smtpsd::events
