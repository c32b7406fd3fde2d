#pragma once
// The kernel's scheduling policy for the server's threads.
#include <pthread.h>

#include <cstddef>
#include <vector>

namespace smtpsd::net {

// Puts every thread of the process under SCHED_BATCH (threads started later
// inherit it from the thread that starts them). Priority and nice value are
// unchanged; what changes is that a thread the kernel wakes (a session whose
// client wrote, the group committer handed a message, a session told its
// message is safe) no longer preempts the thread running on that core: it
// takes a free core, or waits for the running one to block or finish its
// time slice. Under load the server's threads and their clients wake each
// other many times per message, and each such preemption was a context
// switch that bought nothing. Returns how many threads it changed; throws
// std::system_error when the kernel refuses (a seccomp filter, for example).
std::size_t use_batch_scheduling();

// base::process_cpus() as a list, in increasing order.
std::vector<int> usable_cpus();

// Keeps a thread on one CPU. Threads it starts afterwards inherit that.
// Returns false when the kernel refuses (the CPU is not in the cpuset).
bool pin(pthread_t thread, int cpu);

}  // namespace smtpsd::net
