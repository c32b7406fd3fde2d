#pragma once
// A count that moves after every committed change to the accounts (their
// limits, credentials, identities, tokens, shared files) or to the
// suppression list, made by any process that shares the store on this
// machine: the server itself, its API and the CLI. Reading it is one load
// from memory, no I/O, so an I/O thread may ask it whether what a worker
// read from the store before is still what the store holds: read the count
// before the rows, and the rows are current for as long as the count has
// not moved (a writer moves it after its commit, so a commit the rows missed
// moves it after that first read).
//
// The embedded backend keeps the count in a small file of the data
// directory that every process maps; the in-memory stores in the process.
// A backend whose changes come from other machines (PostgreSQL) has none.
#include <atomic>
#include <cstdint>

namespace smtpsd::store {

class change_signal {
 public:
  change_signal(const change_signal&) = delete;
  change_signal& operator=(const change_signal&) = delete;
  virtual ~change_signal() = default;

  std::uint64_t value() const noexcept { return std::atomic_ref<std::uint64_t>(*word_).load(std::memory_order_acquire); }
  // After the change is committed, never before.
  void bump() noexcept { std::atomic_ref<std::uint64_t>(*word_).fetch_add(1, std::memory_order_acq_rel); }

 protected:
  explicit change_signal(std::uint64_t* word) : word_(word) {}
  std::uint64_t* word() const { return word_; }

 private:
  std::uint64_t* word_;
};

// For stores that live in one process.
class local_change_signal final : public change_signal {
 public:
  local_change_signal() : change_signal(&word_) {}

 private:
  alignas(8) std::uint64_t word_ = 0;
};

}  // namespace smtpsd::store
