#include "submission/recent_submissions.hpp"

#include <algorithm>
#include <new>

namespace smtpsd::submission {

recent_submissions::recent_submissions(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

void recent_submissions::forget_oldest() {
  const entry& e = ring_[head_];
  if (e.id_size != dead) index_.erase(e.k);
  head_ = (head_ + 1) % capacity_;
  --count_;
}

std::optional<std::string> recent_submissions::find(const key& k, base::time_point not_before) const {
  const auto it = index_.find(k);
  if (it == index_.end()) return std::nullopt;
  const entry& e = ring_[it->second];
  if (e.when < not_before) return std::nullopt;
  return std::string(e.id.data(), e.id_size);
}

void recent_submissions::remember(const key& k, std::string_view queue_id, base::time_point now,
                                  base::time_point forget_before) {
  if (!ring_) {
    // malloc, not new[]: pages of the ring no key has reached yet are never
    // touched, so they take no memory.
    ring_.reset(static_cast<entry*>(std::malloc(capacity_ * sizeof(entry))));
    if (!ring_) throw std::bad_alloc();
  }
  while (count_ > 0 && (ring_[head_].when < forget_before || count_ == capacity_)) forget_oldest();
  if (const auto it = index_.find(k); it != index_.end()) {
    ring_[it->second].id_size = dead;
    index_.erase(it);
  }
  if (queue_id.size() > max_id_size) return;
  const std::size_t pos = (head_ + count_) % capacity_;
  entry& e = ring_[pos];
  e.k = k;
  std::memcpy(e.id.data(), queue_id.data(), queue_id.size());
  e.id_size = static_cast<std::uint8_t>(queue_id.size());
  e.when = now;
  ++count_;
  index_.emplace(k, static_cast<std::uint32_t>(pos));
}

}  // namespace smtpsd::submission
