#include "net/scheduling.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

using namespace smtpsd::net;

TEST(scheduling, batch_for_threads_running_and_threads_started_later) {
  std::atomic<pid_t> earlier_tid{0};
  std::atomic<bool> done{false};
  std::atomic<int> earlier_policy{-1};
  std::thread earlier([&] {
    earlier_tid = ::gettid();
    while (!done) std::this_thread::yield();
    earlier_policy = ::sched_getscheduler(0);
  });
  while (earlier_tid == 0) std::this_thread::yield();
  ASSERT_EQ(::sched_getscheduler(0), SCHED_OTHER);

  EXPECT_GE(use_batch_scheduling(), 2u) << "this thread and the one already running";
  EXPECT_EQ(::sched_getscheduler(0), SCHED_BATCH);
  EXPECT_EQ(::sched_getscheduler(earlier_tid), SCHED_BATCH) << "a thread started before";
  int later_policy = -1;
  std::thread([&] { later_policy = ::sched_getscheduler(0); }).join();
  EXPECT_EQ(later_policy, SCHED_BATCH) << "a thread started after inherits it";
  sched_param p{};
  EXPECT_EQ(::sched_getparam(0, &p), 0);
  EXPECT_EQ(p.sched_priority, 0) << "no real-time priority";
  done = true;
  earlier.join();
  EXPECT_EQ(earlier_policy, SCHED_BATCH);

  const sched_param none{};  // the other tests run as before
  ASSERT_EQ(::sched_setscheduler(0, SCHED_OTHER, &none), 0);
}

namespace {
// The calling thread's CPUs: how many, and whether `cpu` is one.
std::pair<int, bool> my_cpus(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return {0, false};
  return {CPU_COUNT(&set), CPU_ISSET(cpu, &set) != 0};
}
}  // namespace

TEST(scheduling, pin_keeps_one_thread_on_one_cpu) {
  const auto cpus = usable_cpus();
  ASSERT_FALSE(cpus.empty());
  ASSERT_EQ(my_cpus(cpus.back()), std::make_pair(static_cast<int>(cpus.size()), true));
  std::atomic<bool> go{false};
  std::pair<int, bool> pinned, later;
  std::thread t([&] {
    while (!go) std::this_thread::yield();
    pinned = my_cpus(cpus.back());
    std::thread([&] { later = my_cpus(cpus.back()); }).join();
  });
  EXPECT_TRUE(pin(t.native_handle(), cpus.back()));
  go = true;
  t.join();
  EXPECT_EQ(pinned, std::make_pair(1, true));
  EXPECT_EQ(later, std::make_pair(1, true)) << "a thread it starts inherits the pin";
  EXPECT_EQ(my_cpus(cpus.back()).first, static_cast<int>(cpus.size())) << "the pinning thread is left alone";
  EXPECT_EQ(usable_cpus(), cpus) << "what the process may use is the main thread's mask";
}
