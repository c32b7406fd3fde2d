#include "net/scheduling.hpp"

#include <sched.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <string>
#include <system_error>

#include "base/thread.hpp"

namespace smtpsd::net {

std::size_t use_batch_scheduling() {
  const sched_param none{};
  if (::sched_setscheduler(0, SCHED_BATCH, &none) != 0)
    throw std::system_error(errno, std::generic_category(), "sched_setscheduler(SCHED_BATCH)");
  std::size_t changed = 1;
  const pid_t self = ::gettid();
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const auto name = task.path().filename().string();
    pid_t tid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), tid).ec != std::errc() || tid == self) continue;
    // A thread may have ended since the listing: ESRCH is not a failure.
    if (::sched_setscheduler(tid, SCHED_BATCH, &none) == 0) ++changed;
    else if (errno != ESRCH)
      throw std::system_error(errno, std::generic_category(), "sched_setscheduler(SCHED_BATCH) of thread " + name);
  }
  return changed;
}

std::vector<int> usable_cpus() {
  const auto set = base::process_cpus();
  std::vector<int> out;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) out.push_back(cpu);
  return out;
}

bool pin(pthread_t thread, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::pthread_setaffinity_np(thread, sizeof set, &set) == 0;
}

}  // namespace smtpsd::net
