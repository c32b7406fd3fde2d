#pragma once
// The admin listener (Beast, HTTP/1.1, optionally HTTPS with the [tls]
// certificates): /metrics (Prometheus text) and /healthz without a token,
// the JSON API under /api/v1/ (api.hpp) and the dashboard at / with its
// files under /assets/, all compiled into the binary (assets.hpp). Request
// bodies over 1 MiB get 413; at most 128 connections are served at once.
#include <atomic>
#include <memory>
#include <string>

#include "base/ip.hpp"
#include "net/asio.hpp"
#include "net/tls.hpp"

namespace smtpsd::admin {

class api;

struct http_settings {
  base::host_port listen;
  const net::server_tls_holder* tls = nullptr;  // HTTPS when set
  admin::api* api = nullptr;                    // /api/v1/ answers 404 without it
};

class http_server {
 public:
  // Binds now (throws std::system_error naming the address).
  http_server(net::asio::io_context& io, http_settings s);
  ~http_server();
  net::tcp::endpoint local_endpoint() const;
  void start();
  void stop();

  static constexpr std::size_t max_body = 1024 * 1024;
  static constexpr int max_connections = 128;

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(net::tcp::socket s);
  net::asio::io_context& io_;
  http_settings settings_;
  net::tcp::acceptor acceptor_;
  std::shared_ptr<std::atomic<int>> open_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace smtpsd::admin
