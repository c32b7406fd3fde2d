#include "net/scheduling.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <thread>

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
