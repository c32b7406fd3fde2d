#pragma once
// The duplicate guard's memory (submitter::first_submission): the queue id
// each recent message key got, for at most `capacity` keys, the oldest
// forgotten first. The entries sit in a ring in the order they came, indexed
// by Boost's open-addressing map from key to ring position. Remembering a
// message allocates nothing but the index's occasional growth; the
// std::unordered_map it replaces allocated twice per message (its node and
// the 16-character queue id), freed as much again when it forgot one, and
// held about 140 octets per key (its node, the id's block, a bucket and the
// order's entry) against 48 here plus about 24 in the index. The ring is
// allocated at the first key; its pages take memory only once keys reach
// them. Not thread-safe: the submitter locks around it.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/unordered/unordered_flat_map.hpp>

#include "base/clock.hpp"
#include "base/keyed_hash.hpp"

namespace smtpsd::submission {

class recent_submissions {
 public:
  using key = base::keyed_hash::digest;
  // Queue ids are 16 characters (base::make_queue_id); a longer one is not
  // remembered, which only lets its message through the guard again.
  static constexpr std::size_t max_id_size = 16;

  explicit recent_submissions(std::size_t capacity);

  // The queue id remembered for k at or after not_before.
  std::optional<std::string> find(const key& k, base::time_point not_before) const;
  // Forgets what was remembered before forget_before, then remembers k's
  // queue id at `now`, in place of what k had; when full, the oldest goes.
  void remember(const key& k, std::string_view queue_id, base::time_point now, base::time_point forget_before);
  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  struct entry {
    key k;
    std::array<char, max_id_size> id;
    std::uint8_t id_size;  // dead when k was remembered again later
    base::time_point when;
  };
  static constexpr std::uint8_t dead = 0xFF;
  struct free_deleter {
    void operator()(void* p) const { std::free(p); }
  };
  struct key_hash {
    using is_avalanching = void;  // a keyed digest already: no mixing needed
    std::size_t operator()(const key& k) const {
      std::size_t h;
      std::memcpy(&h, k.data(), sizeof h);
      return h;
    }
  };

  void forget_oldest();

  std::size_t capacity_;
  std::unique_ptr<entry[], free_deleter> ring_;
  boost::unordered_flat_map<key, std::uint32_t, key_hash> index_;  // live entries' ring positions
  std::size_t head_ = 0;   // the oldest entry's ring position
  std::size_t count_ = 0;  // entries in the ring, dead ones included
};

}  // namespace smtpsd::submission
