#pragma once
// What `send` and `probe` share: running a coroutine to completion on the
// command's thread, and connecting to HOST:PORT with one clear sentence when
// that fails.
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "base/ip.hpp"
#include "delivery/resolver.hpp"
#include "delivery/smtp_client.hpp"

namespace smtpsd::cli {

template <class T>
T run_coroutine(net::asio::io_context& io, net::awaitable<T> a) {
  std::optional<T> out;
  std::exception_ptr err;
  net::asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
    err = e;
    if (!e) out = std::move(v);
  });
  io.run();
  io.restart();
  if (err) std::rethrow_exception(err);
  return std::move(*out);
}

struct dialed {
  std::unique_ptr<delivery::smtp_client> client;
  std::string error;  // one sentence when client is null
};

// Resolves (c-ares, /etc/hosts first) and connects.
net::awaitable<dialed> dial(const base::host_port& where, net::duration timeout);

// "does not speak SMTP (it sent "HTTP/1.1 400 …")", "sent no greeting within 5 s", …
std::string greeting_problem(const base::host_port& where, const delivery::response& r, net::duration timeout);

base::host_port parse_server(const std::string& text, std::uint16_t default_port, const char* option);

}  // namespace smtpsd::cli
