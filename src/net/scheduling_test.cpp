#include "net/scheduling.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <thread>
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
std::vector<int> my_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) out.push_back(cpu);
  return out;
}
}  // namespace

TEST(scheduling, pin_keeps_one_thread_on_one_cpu) {
  const auto cpus = usable_cpus();
  ASSERT_FALSE(cpus.empty());
  ASSERT_EQ(cpus, my_cpus());
  std::atomic<bool> go{false};
  std::vector<int> pinned, later;
  std::thread t([&] {
    while (!go) std::this_thread::yield();
    pinned = my_cpus();
    std::thread([&] { later = my_cpus(); }).join();
  });
  EXPECT_TRUE(pin(t.native_handle(), cpus.back()));
  go = true;
  t.join();
  EXPECT_EQ(pinned, std::vector<int>{cpus.back()});
  EXPECT_EQ(later, std::vector<int>{cpus.back()}) << "a thread it starts inherits the pin";
  EXPECT_EQ(my_cpus(), cpus) << "the pinning thread is left alone";
}
