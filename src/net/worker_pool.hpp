#pragma once
// Threads for blocking work (password hashing, database calls, fsync). A
// coroutine awaits run(f): f runs on the pool and the coroutine resumes on
// its own executor; an exception thrown by f is rethrown there.
#include <boost/asio/thread_pool.hpp>

#include <optional>
#include <type_traits>

#include "net/asio.hpp"

namespace smtpsd::net {

class worker_pool {
 public:
  explicit worker_pool(std::size_t threads) { pool_.emplace(threads); }
  ~worker_pool() { stop(); }

  // Not a coroutine itself: GCC 12 destroys a temporary argument of a
  // coroutine called inside co_await twice (a lambda capturing a string
  // would be freed twice), so f is moved straight into the spawned one.
  template <class F>
  awaitable<std::invoke_result_t<F>> run(F f) {
    using R = std::invoke_result_t<F>;
    return asio::co_spawn(
        pool_->get_executor(), [f = std::move(f)]() mutable -> awaitable<R> { co_return f(); }, use_awaitable);
  }

  asio::thread_pool::executor_type executor() { return pool_->get_executor(); }
  // Stops the threads and destroys the work still queued, now: a coroutine
  // waiting in run() is destroyed with it, and its frame refers to the
  // executor it would have resumed on. So stop the pool before destroying
  // the io_contexts its callers run on. Nothing may call run() afterwards.
  void stop() {
    if (!pool_) return;
    pool_->stop();
    pool_->join();
    pool_.reset();
  }

 private:
  std::optional<asio::thread_pool> pool_;
};

}  // namespace smtpsd::net
