#include "net/stream.hpp"

#include <boost/asio/write.hpp>

namespace smtpsd::net {

const error_code& timeout_error() {
  static const error_code e = asio::error::timed_out;
  return e;
}

stream::stream(tcp::socket s) : sock_(std::move(s)), timer_(sock_.get_executor()) {
  error_code ec;
  remote_ = sock_.remote_endpoint(ec);
  sock_.set_option(tcp::no_delay(true), ec);
}

stream::~stream() = default;

void stream::arm(duration timeout) {
  expired_ = false;
  const auto gen = ++generation_;
  timer_.expires_after(timeout);
  timer_.async_wait([this, gen](const error_code& ec) {
    if (ec || gen != generation_) return;  // cancelled, or left over from an earlier operation
    expired_ = true;
    error_code ignored;
    sock_.cancel(ignored);
  });
}

bool stream::disarm() {
  ++generation_;
  timer_.cancel();
  return expired_;
}

template <class Op>
auto stream::with_deadline(duration timeout, Op op) -> decltype(op()) {
  arm(timeout);
  auto result = co_await op();
  const bool expired = disarm();
  if (expired) std::get<0>(result) = timeout_error();
  co_return result;
}

awaitable<error_code> stream::accept_tls(ssl::context& ctx, duration timeout) {
  tls_ = std::make_unique<ssl::stream<tcp::socket&>>(sock_, ctx);
  auto [ec] = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
    co_return co_await tls_->async_handshake(ssl::stream_base::server, as_tuple_awaitable);
  });
  co_return ec;
}

awaitable<error_code> stream::connect_tls(ssl::context& ctx, const std::string& sni, bool verify_name,
                                          duration timeout) {
  tls_ = std::make_unique<ssl::stream<tcp::socket&>>(sock_, ctx);
  if (!sni.empty()) SSL_set_tlsext_host_name(tls_->native_handle(), sni.c_str());
  if (verify_name) tls_->set_verify_callback(ssl::host_name_verification(sni));
  auto [ec] = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
    co_return co_await tls_->async_handshake(ssl::stream_base::client, as_tuple_awaitable);
  });
  co_return ec;
}

awaitable<std::pair<error_code, std::size_t>> stream::read_some(char* buf, std::size_t n, duration timeout) {
  auto [ec, got] = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code, std::size_t>> {
    if (tls_) co_return co_await tls_->async_read_some(asio::buffer(buf, n), as_tuple_awaitable);
    co_return co_await sock_.async_read_some(asio::buffer(buf, n), as_tuple_awaitable);
  });
  co_return std::pair{ec, got};
}

awaitable<error_code> stream::write(std::string_view data, duration timeout) {
  auto [ec, n] = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code, std::size_t>> {
    if (tls_) co_return co_await asio::async_write(*tls_, asio::buffer(data), as_tuple_awaitable);
    co_return co_await asio::async_write(sock_, asio::buffer(data), as_tuple_awaitable);
  });
  co_return ec;
}

awaitable<void> stream::close(duration timeout) {
  if (tls_ && sock_.is_open()) {
    co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
      co_return co_await tls_->async_shutdown(as_tuple_awaitable);
    });
  }
  close_now();
}

void stream::close_now() {
  error_code ec;
  timer_.cancel();
  sock_.shutdown(tcp::socket::shutdown_both, ec);
  sock_.close(ec);
}

void stream::cancel() {
  error_code ec;
  sock_.cancel(ec);
}

}  // namespace smtpsd::net
