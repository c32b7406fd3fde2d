#include "base/thread.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <latch>
#include <utility>

namespace smtpsd::base {

cpu_set_t process_cpus() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (::sched_getaffinity(::getpid(), sizeof cpus, &cpus) != 0) CPU_ZERO(&cpus);
  return cpus;
}

std::thread start_thread(std::string name, std::function<void()> run) {
  std::latch named(1);
  std::thread t([&named, name = std::move(name), run = std::move(run)] {
    ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
    const auto cpus = process_cpus();
    if (CPU_COUNT(&cpus) > 0) ::sched_setaffinity(0, sizeof cpus, &cpus);
    named.count_down();  // after this, `named` is gone
    run();
  });
  named.wait();  // so that a pin() after this call is not undone
  return t;
}

}  // namespace smtpsd::base
