#include "net/stream.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "net/proxy_protocol.hpp"

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
                                          duration timeout, SSL_SESSION* resume) {
  tls_ = std::make_unique<ssl::stream<tcp::socket&>>(sock_, ctx);
  error_code not_ip;
  asio::ip::make_address(sni, not_ip);
  if (!sni.empty() && not_ip) SSL_set_tlsext_host_name(tls_->native_handle(), sni.c_str());  // SNI never carries an IP
  if (resume) SSL_set_session(tls_->native_handle(), resume);
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

awaitable<error_code> stream::wait_readable(duration timeout) {
  if (tls_) co_return error_code{};  // Asio may hold TLS bytes the socket no longer shows: read instead
  auto [ec] = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
    co_return co_await sock_.async_wait(tcp::socket::wait_read, as_tuple_awaitable);
  });
  co_return ec;
}

awaitable<error_code> stream::write(std::string_view data, duration timeout) {
  auto [ec, n] = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code, std::size_t>> {
    if (tls_) co_return co_await asio::async_write(*tls_, asio::buffer(data), as_tuple_awaitable);
    co_return co_await asio::async_write(sock_, asio::buffer(data), as_tuple_awaitable);
  });
  co_return ec;
}

awaitable<std::pair<error_code, std::string>> stream::read_exactly(std::size_t n, duration timeout) {
  std::string buf(n, '\0');
  auto [ec, got] = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code, std::size_t>> {
    co_return co_await asio::async_read(sock_, asio::buffer(buf), as_tuple_awaitable);
  });
  buf.resize(got);
  co_return std::pair{ec, std::move(buf)};
}

awaitable<std::optional<proxy_header>> read_proxy_header(stream& s, duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] { return std::max<duration>(deadline - std::chrono::steady_clock::now(), std::chrono::milliseconds(1)); };
  auto [ec, head] = co_await s.read_exactly(8, left());
  if (ec) co_return std::nullopt;
  if (head.rfind("PROXY ", 0) == 0) {
    while (head.size() < proxy_v1_max && head.substr(head.size() - 2) != "\r\n") {
      auto [e, one] = co_await s.read_exactly(1, left());
      if (e) co_return std::nullopt;
      head += one;
    }
    co_return parse_proxy_v1(head);
  }
  if (head != proxy_v2_signature.substr(0, 8)) co_return std::nullopt;
  auto [e2, rest] = co_await s.read_exactly(8, left());
  if (e2) co_return std::nullopt;
  head += rest;
  auto total = proxy_v2_length(head);
  if (total == 0) co_return std::nullopt;
  auto [e3, body] = co_await s.read_exactly(total - 16, left());
  if (e3) co_return std::nullopt;
  co_return parse_proxy_v2(head + body);
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
