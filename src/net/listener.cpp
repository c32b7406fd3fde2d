#include "net/listener.hpp"

#include <sys/socket.h>

#include <fmt/format.h>

#include <boost/asio/ip/v6_only.hpp>

namespace smtpsd::net {

tcp::acceptor bind_acceptor(asio::io_context& io, const std::string& host, std::uint16_t port) {
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw std::system_error(ec, fmt::format("bad listen address {}", host));
  tcp::endpoint ep(addr, port);
  tcp::acceptor a(io);
  auto fail = [&](std::string_view what) {
    std::string hint;
    if (ec == boost::system::errc::permission_denied && port < 1024)
      hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    if (ec == boost::system::errc::address_in_use) hint = " (another process listens there)";
    throw std::system_error(ec, fmt::format("cannot {} {}{}", what, to_string(ep), hint));
  };
  a.open(ep.protocol(), ec);
  if (ec) fail("open");
  a.set_option(tcp::acceptor::reuse_address(true), ec);
  int one = 1;
  ::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (addr.is_v6()) a.set_option(asio::ip::v6_only(true), ec);
  a.bind(ep, ec);
  if (ec) fail("bind");
  a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("listen on");
  return a;
}

std::string to_string(const tcp::endpoint& e) {
  auto a = e.address();
  if (a.is_v6()) {
    auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) return fmt::format("{}:{}", asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string(), e.port());
    return fmt::format("[{}]:{}", a.to_string(), e.port());
  }
  return fmt::format("{}:{}", a.to_string(), e.port());
}

}  // namespace smtpsd::net
