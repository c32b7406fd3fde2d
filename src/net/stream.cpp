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
  auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
    co_return co_await tls_->async_handshake(ssl::stream_base::server, as_tuple_awaitable);
  });
  co_return std::get<0>(r);
}

awaitable<error_code> stream::connect_tls(ssl::context& ctx, const std::string& sni, bool verify_name,
                                          duration timeout, SSL_SESSION* resume) {
  tls_ = std::make_unique<ssl::stream<tcp::socket&>>(sock_, ctx);
  error_code not_ip;
  asio::ip::make_address(sni, not_ip);
  if (!sni.empty() && not_ip) SSL_set_tlsext_host_name(tls_->native_handle(), sni.c_str());  // SNI never carries an IP
  if (resume) SSL_set_session(tls_->native_handle(), resume);
  if (verify_name) tls_->set_verify_callback(ssl::host_name_verification(sni));
  auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
    co_return co_await tls_->async_handshake(ssl::stream_base::client, as_tuple_awaitable);
  });
  co_return std::get<0>(r);
}

awaitable<io_result> stream::read_some(char* buf, std::size_t n, duration timeout) {
  auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code, std::size_t>> {
    if (tls_) co_return co_await tls_->async_read_some(asio::buffer(buf, n), as_tuple_awaitable);
    co_return co_await sock_.async_read_some(asio::buffer(buf, n), as_tuple_awaitable);
  });
  co_return io_result{std::get<0>(r), std::get<1>(r)};
}

awaitable<error_code> stream::wait_readable(duration timeout) {
  if (tls_) co_return error_code{};  // Asio may hold TLS bytes the socket no longer shows: read instead
  auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
    co_return co_await sock_.async_wait(tcp::socket::wait_read, as_tuple_awaitable);
  });
  co_return std::get<0>(r);
}

awaitable<error_code> stream::write(std::string_view data, duration timeout) {
  auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code, std::size_t>> {
    if (tls_) co_return co_await asio::async_write(*tls_, asio::buffer(data), as_tuple_awaitable);
    co_return co_await asio::async_write(sock_, asio::buffer(data), as_tuple_awaitable);
  });
  co_return std::get<0>(r);
}

awaitable<exact_read> stream::read_exactly(std::size_t n, duration timeout) {
  exact_read out;
  out.data.assign(n, '\0');
  auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code, std::size_t>> {
    co_return co_await asio::async_read(sock_, asio::buffer(out.data), as_tuple_awaitable);
  });
  out.ec = std::get<0>(r);
  out.data.resize(std::get<1>(r));
  co_return out;
}

awaitable<std::optional<proxy_header>> read_proxy_header(stream& s, duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] { return std::max<duration>(deadline - std::chrono::steady_clock::now(), std::chrono::milliseconds(1)); };
  auto first = co_await s.read_exactly(8, left());
  if (first.ec) co_return std::nullopt;
  std::string head = std::move(first.data);
  if (head.rfind("PROXY ", 0) == 0) {
    while (head.size() < proxy_v1_max && head.substr(head.size() - 2) != "\r\n") {
      auto one = co_await s.read_exactly(1, left());
      if (one.ec) co_return std::nullopt;
      head += one.data;
    }
    co_return parse_proxy_v1(head);
  }
  if (head != proxy_v2_signature.substr(0, 8)) co_return std::nullopt;
  auto rest = co_await s.read_exactly(8, left());
  if (rest.ec) co_return std::nullopt;
  head += rest.data;
  auto total = proxy_v2_length(head);
  if (total == 0) co_return std::nullopt;
  auto body = co_await s.read_exactly(total - 16, left());
  if (body.ec) co_return std::nullopt;
  head += body.data;
  co_return parse_proxy_v2(head);
}

awaitable<void> stream::close(duration timeout) {
  if (tls_ && sock_.is_open()) {
    auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
      co_return co_await tls_->async_shutdown(as_tuple_awaitable);
    });
    (void)r;  // a peer that does not answer close_notify changes nothing
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
