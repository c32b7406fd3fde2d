#include "submission/recent_submissions.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace smtpsd::submission {

recent_submissions::recent_submissions(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {
  std::size_t n = 2;
  while (n < 2 * capacity_) n *= 2;
  mask_ = n - 1;
}

std::size_t recent_submissions::home(const key& k) const {
  std::uint64_t h;  // the key is a keyed digest already: any eight of its octets will do
  std::memcpy(&h, k.data(), sizeof h);
  return static_cast<std::size_t>(h) & mask_;
}

std::optional<std::size_t> recent_submissions::find_slot(const key& k) const {
  if (!slots_) return std::nullopt;
  for (std::size_t i = home(k);; i = (i + 1) & mask_) {
    const std::uint32_t v = slots_[i];
    if (v == 0) return std::nullopt;
    if (ring_[v - 1].k == k) return i;
  }
}

std::size_t recent_submissions::slot_of(std::size_t pos) const {
  std::size_t i = home(ring_[pos].k);
  while (slots_[i] != pos + 1) i = (i + 1) & mask_;
  return i;
}

void recent_submissions::unindex(std::size_t slot) {
  // Backward-shift deletion: pull later entries of the probe run into the
  // gap when their home slot does not lie cyclically in (gap, their slot].
  std::size_t gap = slot;
  for (std::size_t j = (gap + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
    const std::size_t h = home(ring_[slots_[j] - 1].k);
    const bool stays = gap < j ? (h > gap && h <= j) : (h > gap || h <= j);
    if (stays) continue;
    slots_[gap] = slots_[j];
    gap = j;
  }
  slots_[gap] = 0;
}

void recent_submissions::forget_oldest() {
  entry& e = ring_[head_];
  if (e.id_size != dead) {
    unindex(slot_of(head_));
    --live_;
  }
  head_ = (head_ + 1) % capacity_;
  --count_;
}

std::optional<std::string> recent_submissions::find(const key& k, base::time_point not_before) const {
  const auto slot = find_slot(k);
  if (!slot) return std::nullopt;
  const entry& e = ring_[slots_[*slot] - 1];
  if (e.when < not_before) return std::nullopt;
  return std::string(e.id.data(), e.id_size);
}

void recent_submissions::remember(const key& k, std::string_view queue_id, base::time_point now,
                                  base::time_point forget_before) {
  if (!ring_) {
    // malloc, not new[]: pages of the ring and the index no key has reached
    // yet are never touched, so they take no memory.
    ring_.reset(static_cast<entry*>(std::malloc(capacity_ * sizeof(entry))));
    slots_.reset(static_cast<std::uint32_t*>(std::calloc(mask_ + 1, sizeof(std::uint32_t))));
    if (!ring_ || !slots_) throw std::bad_alloc();
  }
  while (count_ > 0 && (ring_[head_].when < forget_before || count_ == capacity_)) forget_oldest();
  if (const auto slot = find_slot(k)) {
    ring_[slots_[*slot] - 1].id_size = dead;
    unindex(*slot);
    --live_;
  }
  if (queue_id.size() > max_id_size) return;
  const std::size_t pos = (head_ + count_) % capacity_;
  entry& e = ring_[pos];
  e.k = k;
  std::memcpy(e.id.data(), queue_id.data(), queue_id.size());
  e.id_size = static_cast<std::uint8_t>(queue_id.size());
  e.when = now;
  ++count_;
  ++live_;
  std::size_t i = home(k);
  while (slots_[i] != 0) i = (i + 1) & mask_;
  slots_[i] = static_cast<std::uint32_t>(pos + 1);
}

}  // namespace smtpsd::submission
