#pragma once
// Coroutine helpers that make the forms GCC 12 miscompiles unnecessary.
// The rules themselves are in docs/development.md ("GCC 12 coroutines") and
// tests/coroutine_rules.py fails the build on the forms:
//   1. no co_await inside ?: or && / ||          (write an if)
//   2. no structured binding of a co_await result (use the named results below)
//   3. no discarded non-void co_await result      (name it)
//   4. no capturing lambda, and no temporary of a class type (string
//      concatenation, fmt::format, std::string(...)), in the full expression
//      of a co_await: name it first, or hand the lambda to worker_pool::run,
//      which is not a coroutine and moves it straight into the spawned frame.
#include <boost/asio/post.hpp>

#include <functional>
#include <memory>
#include <string>

#include "net/asio.hpp"

namespace smtpsd::net {

// Awaits a callback-style operation: `start(done)` begins work that calls
// done(value) once, on any thread; the awaiting coroutine resumes on its own
// executor with the value. Not a coroutine itself, so `start` is moved into
// the operation, never destroyed twice.
template <class T, class Start>
awaitable<T> from_callback(Start start) {
  return asio::async_initiate<decltype(use_awaitable), void(T)>(
      [start = std::move(start)](auto handler) mutable {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        start(std::function<void(T)>([h](T value) {
          auto ex = asio::get_associated_executor(*h);
          asio::post(ex, [h, value = std::move(value)]() mutable { (*h)(std::move(value)); });
        }));
      },
      use_awaitable);
}

// Named results in place of the tuples `as_tuple` yields, so no caller needs
// a structured binding of a co_await result.
struct accepted {
  error_code ec;
  tcp::socket socket;
};
awaitable<accepted> accept(tcp::acceptor& a);
awaitable<error_code> connect(tcp::socket& s, const tcp::endpoint& to);
// Waits for the timer to expire or be cancelled (operation_aborted).
awaitable<error_code> wait(asio::steady_timer& t);
// Waits `d` on the current executor.
awaitable<void> sleep_for(std::chrono::steady_clock::duration d);

// Runs a detached coroutine; an exception that escapes it is logged with
// `what` instead of ending the process.
void spawn(const asio::any_io_executor& ex, awaitable<void> a, std::string what);

}  // namespace smtpsd::net
