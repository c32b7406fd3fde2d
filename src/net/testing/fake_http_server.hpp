#pragma once
// For tests only: an HTTP server in the test's io_context (Beast) that
// answers every request with a chosen status and records what came.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

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
  awaitable<void> serve(tcp::socket s) {
    beast::tcp_stream stream(std::move(s));
    beast::flat_buffer buf;
    std::size_t held = 0;
    for (int answered = 1;; ++answered) {
      http::request<http::string_body> req;
      auto read = co_await http::async_read(stream, buf, req, as_tuple_awaitable);
      if (std::get<0>(read)) co_return;
      if (answer_after > 0 && ++held < answer_after) {
        requests.push_back({req.body(), std::string(req["Smtpsd-Signature"]), std::string(req["Smtpsd-Event-Id"])});
        --answered;
        continue;
      }
      for (; held > 1; --held) {  // the held ones first, in order
        http::response<http::string_body> early{static_cast<http::status>(status), 11};
        early.body() = "ok";
        early.keep_alive(true);
        early.prepare_payload();
        auto sent = co_await http::async_write(stream, early, as_tuple_awaitable);
        if (std::get<0>(sent)) co_return;
      }
      held = 0;
      requests.push_back({req.body(), std::string(req["Smtpsd-Signature"]), std::string(req["Smtpsd-Event-Id"])});
      if (silent) continue;
      int answer = status;
      if (!script.empty()) {
        answer = script.front();
        script.erase(script.begin());
      }
      http::response<http::string_body> res{static_cast<http::status>(answer), 11};
      res.body() = "ok";
      const bool last = answers_per_connection > 0 && answered >= answers_per_connection;
      res.keep_alive(!last);
      res.prepare_payload();
      auto written = co_await http::async_write(stream, res, as_tuple_awaitable);
      if (std::get<0>(written) || last) co_return;
    }
  }
};


}  // namespace smtpsd::net::testing
