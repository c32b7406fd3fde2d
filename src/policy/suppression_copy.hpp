#pragma once
// The suppression list, copied into memory, so that a RCPT can be answered on
// its I/O thread without a database call. The copy answers only while it is
// fresh: the store's change generation was confirmed less than `recheck` ago
// (a change made elsewhere, by the CLI or another node, is seen within that;
// SPEC gives it 2 seconds). It holds the list only while the list has at most
// `max_entries` addresses. Otherwise, or when stale, it does not know, and the
// caller asks the store on the worker pool, as every RCPT did before; refresh()
// runs there too.
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "base/clock.hpp"
#include "store/suppression_store.hpp"

namespace smtpsd::policy {

class suppression_copy {
 public:
  static constexpr auto recheck = std::chrono::milliseconds(500);
  static constexpr std::size_t max_entries = 100000;

  // No I/O. true: on the list; false: not on it; nullopt: not known here.
  std::optional<bool> contains(std::string_view address, base::time_point now) const;
  // Blocking (the worker pool): reads the store's generation, and the whole
  // list again when it moved, so that every change made before `now` is in
  // the copy.
  void confirm(store::suppression_store& store, base::time_point now);
  // confirm() when the copy is stale and no other thread is loading it (the
  // caller asks the store itself meanwhile).
  void refresh(store::suppression_store& store, base::time_point now);

 private:
  using set = std::unordered_set<std::string>;
  bool fresh(base::time_point now) const;  // under mu_
  void load(store::suppression_store& store, base::time_point now);  // under loading_

  mutable std::mutex mu_;
  std::shared_ptr<const set> addresses_;  // null: not loaded, or more than max_entries
  std::uint64_t generation_ = 0;
  bool loaded_ = false;  // generation_ was read at least once
  base::time_point confirmed_{};
  std::mutex loading_;
};

}  // namespace smtpsd::policy
