#pragma once
// glibc keeps up to 7 freed chunks of each small size per thread (its
// tcache) and sends the rest through its slower bins. A server's event loop
// frees and takes again bursts of same-sized blocks for every message
// (strings, replies, events), so `smtpsd serve` asks for 64 per size
// (docs/operations.md, "Memory allocator"). glibc reads that only from the
// environment (GLIBC_TUNABLES) when a process starts, so serve executes
// itself again, once, with it set: same process ID, same arguments.
#include <optional>
#include <string>

namespace smtpsd::base {

// The tcache size serve asks glibc for.
inline constexpr int tcache_count = 64;

// GLIBC_TUNABLES with the tcache count added to `current` (null: unset), or
// nothing when `current` already names glibc.malloc.tcache_count (the
// operator's own choice, or this process's second start).
std::optional<std::string> tunables_with_tcache(const char* current);

// Executes this binary (/proc/self/exe's target) again with `argv` and GLIBC_TUNABLES from
// tunables_with_tcache(). Returns (and the process goes on as it is) when
// nothing is to be added or the exec fails. (A sanitizer's allocator ignores
// the tunable; the tests' builds execute again all the same, so that the
// integration tests cover this path.)
void reexec_with_malloc_tunables(char** argv);

}  // namespace smtpsd::base
