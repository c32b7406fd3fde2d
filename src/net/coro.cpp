#include "net/coro.hpp"

#include "base/log.hpp"

namespace smtpsd::net {

awaitable<accepted> accept(tcp::acceptor& a) {
  auto r = co_await a.async_accept(as_tuple_awaitable);
  co_return accepted{std::get<0>(r), std::move(std::get<1>(r))};
}

awaitable<error_code> connect(tcp::socket& s, const tcp::endpoint& to) {
  auto r = co_await s.async_connect(to, as_tuple_awaitable);
  co_return std::get<0>(r);
}

awaitable<error_code> wait(asio::steady_timer& t) {
  auto r = co_await t.async_wait(as_tuple_awaitable);
  co_return std::get<0>(r);
}

awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  auto r = co_await t.async_wait(as_tuple_awaitable);
  (void)r;
}

void spawn(const asio::any_io_executor& ex, awaitable<void> a, std::string what) {
  asio::co_spawn(ex, std::move(a), [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      static auto log = base::logger("net");
      log->error("{} stopped by an unexpected error: {}", what, x.what());
    }
  });
}

}  // namespace smtpsd::net
