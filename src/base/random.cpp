#include "base/random.hpp"

#include <pthread.h>
#include <sodium.h>

#include <array>
#include <atomic>
#include <mutex>

#include "base/clock.hpp"

namespace smtpsd::base {

std::uint64_t random_source::uniform(std::uint64_t bound) {
  if (bound <= 1) return 0;
  // Rejection sampling avoids modulo bias.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  std::uint64_t v;
  do v = next_u64();
  while (v >= limit);
  return v % bound;
}

namespace {

// Every queue id and event id takes random words: asking the kernel for each
// (libsodium's randombytes_buf is a getrandom call) cost 2.9 system calls per
// accepted message. Each thread takes 32 words at a time instead. A forked
// child starts a new generation, so it never hands out the words its parent
// also holds.
std::atomic<unsigned> fork_generation{0};

struct word_buffer {
  std::array<std::uint64_t, 32> words;
  std::size_t next = words.size();
  unsigned generation = 0;
};

}  // namespace

std::uint64_t system_random::next_u64() {
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); }); });
  thread_local word_buffer b;
  const unsigned now = fork_generation.load(std::memory_order_relaxed);
  if (b.next == b.words.size() || b.generation != now) {
    randombytes_buf(b.words.data(), sizeof b.words);
    b.next = 0;
    b.generation = now;
  }
  const auto v = b.words[b.next];
  b.words[b.next++] = 0;  // a word handed out does not stay in memory
  return v;
}

random_source& real_random() {
  static system_random r;
  return r;
}

std::string random_bytes(std::size_t n) {
  std::string s(n, '\0');
  randombytes_buf(s.data(), n);
  return s;
}

const clock& real_clock() {
  static system_clock c;
  return c;
}

}  // namespace smtpsd::base
