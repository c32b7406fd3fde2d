#include "net/scheduling.hpp"

#include <sched.h>
#include <sys/types.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <string>
#include <system_error>

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

}  // namespace smtpsd::net
