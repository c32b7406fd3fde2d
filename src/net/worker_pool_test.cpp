// The worker pool: stop() destroys the work still queued while the
// executors it refers to exist.
#include "net/worker_pool.hpp"

#include <gtest/gtest.h>

#include <future>

using namespace smtpsd;

TEST(worker_pool, stop_destroys_queued_work_while_its_callers_executor_exists) {
  net::worker_pool pool{1};  // outlives io, as a server's pool outlives its I/O threads
  bool resumed = false;
  {
    net::asio::io_context io;
    std::promise<void> blocking;
    // The one thread is busy; the coroutine's task queues behind it, and the
    // busy task stops the pool, so the queued task never runs.
    net::asio::post(pool.executor(), [&pool, started = blocking.get_future().share()] {
      started.wait();
      pool.executor().context().stop();
    });
    net::asio::co_spawn(
        io,
        [&pool, &resumed]() -> net::awaitable<void> {
          co_await pool.run([] { return 1; });
          resumed = true;
        },
        net::asio::detached);
    io.poll();  // the coroutine has handed its task to the pool
    blocking.set_value();
    // Before the fix, the queued task (and the coroutine's frame, which holds
    // io's executor) was destroyed by ~worker_pool, after io: a use after free.
    pool.stop();
    io.poll();
  }
  EXPECT_FALSE(resumed);
}
