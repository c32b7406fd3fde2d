#pragma once
// Starting the server's long-lived threads. Each gets a name (shown by
// `top -H`, `ps -L`, perf) and may run on every CPU the main thread may,
// even when the thread that starts it is kept on one CPU: with cpu_affinity
// the I/O threads are, and a thread they start (the webhook dispatcher, when
// this node takes the role) would otherwise inherit that one CPU.
#include <sched.h>

#include <functional>
#include <string>
#include <thread>

namespace smtpsd::base {

// The CPUs the process may run on: the main thread's affinity mask (a
// cpuset or taskset may have narrowed it; the main thread is never pinned).
// Empty if the kernel will not say.
cpu_set_t process_cpus();

// `name`: at most 15 characters (the kernel's limit; longer is cut). Returns
// once the thread is named and floating, so a net::pin() of it afterwards holds.
std::thread start_thread(std::string name, std::function<void()> run);

}  // namespace smtpsd::base
