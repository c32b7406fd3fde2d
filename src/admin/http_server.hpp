#pragma once
// The admin HTTP endpoint (Beast): /metrics (Prometheus text) and /healthz.
// Meant for a loopback or private address; it has no authentication.
#include <functional>
#include <memory>
#include <string>

#include "base/ip.hpp"
#include "net/asio.hpp"

namespace smtpsd::admin {

class http_server {
 public:
  // Binds now (throws std::system_error naming the address).
  http_server(net::asio::io_context& io, const base::host_port& listen);
  ~http_server();
  net::tcp::endpoint local_endpoint() const;
  void start();
  void stop();

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(net::tcp::socket s);
  net::asio::io_context& io_;
  net::tcp::acceptor acceptor_;
};

}  // namespace smtpsd::admin
