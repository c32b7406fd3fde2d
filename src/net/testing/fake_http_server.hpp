#pragma once
// For tests only: an HTTP server in the test's io_context (Beast) that
// answers every request with a chosen status and records what came.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "net/coro.hpp"
#include "net/listener.hpp"

namespace smtpsd::net::testing {

namespace http = boost::beast::http;

struct received_request {
  std::string body;
  std::string signature;  // Smtpsd-Signature
  std::string event_id;   // Smtpsd-Event-Id
};

// Answers every request with `status`, keeping connections open; counts them.
struct fake_http_server {
  asio::io_context& io;
  tcp::acceptor acceptor;
  int status = 200;
  bool silent = false;  // read requests, never answer
  int answers_per_connection = 0;  // then "Connection: close" and close; 0: keep it open
  std::size_t answer_after = 0;    // wait for this many requests on a connection before answering any (pipelining)
  int connections = 0;
  std::vector<received_request> requests;
  std::vector<int> script;  // statuses for the next requests, in order; then `status`

  explicit fake_http_server(asio::io_context& i) : io(i), acceptor(bind_acceptor(i, "127.0.0.1", 0)) {
    spawn(io.get_executor(), accept_loop(), "fake http server");
  }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + path;
  }
  awaitable<void> accept_loop() {
    for (;;) {
      auto a = co_await net::accept(acceptor);
      if (a.ec) co_return;
      ++connections;
      spawn(io.get_executor(), serve(std::move(a.socket)), "fake http connection");
    }
  }
  // Reads requests until `answer_after` (at least one) are waiting, then
  // answers each in order: the next status of `script`, else `status`.
  awaitable<void> serve(tcp::socket s) {
    beast::tcp_stream stream(std::move(s));
    beast::flat_buffer buf;
    int answered = 0;
    std::size_t waiting = 0;
    for (;;) {
      http::request<http::string_body> req;
      auto read = co_await http::async_read(stream, buf, req, as_tuple_awaitable);
      if (std::get<0>(read)) co_return;
      requests.push_back({req.body(), std::string(req["Smtpsd-Signature"]), std::string(req["Smtpsd-Event-Id"])});
      if (silent || ++waiting < std::max<std::size_t>(1, answer_after)) continue;
      for (; waiting > 0; --waiting) {
        int answer = status;
        if (!script.empty()) {
          answer = script.front();
          script.erase(script.begin());
        }
        http::response<http::string_body> res{static_cast<http::status>(answer), 11};
        res.body() = "ok";
        const bool last = answers_per_connection > 0 && ++answered >= answers_per_connection;
        res.keep_alive(!last);
        res.prepare_payload();
        auto written = co_await http::async_write(stream, res, as_tuple_awaitable);
        if (std::get<0>(written) || last) co_return;
      }
    }
  }
};


}  // namespace smtpsd::net::testing
