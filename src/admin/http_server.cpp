#include "admin/http_server.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "base/log.hpp"
#include "base/metrics.hpp"
#include "net/coro.hpp"
#include "net/listener.hpp"

namespace smtpsd::admin {

namespace http = boost::beast::http;

http_server::http_server(net::asio::io_context& io, const base::host_port& listen)
    : io_(io), acceptor_(net::bind_acceptor(io, listen.host, listen.port)) {}

http_server::~http_server() = default;

net::tcp::endpoint http_server::local_endpoint() const { return acceptor_.local_endpoint(); }

void http_server::start() {
  base::logger("admin")->info("admin listening on {}", net::to_string(local_endpoint()));
  net::asio::co_spawn(io_, accept_loop(), net::asio::detached);
}

void http_server::stop() {
  net::error_code ec;
  acceptor_.close(ec);
}

net::awaitable<void> http_server::accept_loop() {
  for (;;) {
    auto a = co_await net::accept(acceptor_);
    if (a.ec) {
      if (a.ec == net::asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      continue;
    }
    net::spawn(io_.get_executor(), serve(std::move(a.socket)), "admin connection");
  }
}

net::awaitable<void> http_server::serve(net::tcp::socket s) {
  net::beast::tcp_stream stream(std::move(s));
  net::beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    stream.expires_after(std::chrono::seconds(30));
    auto read = co_await http::async_read(stream, buf, parser, net::as_tuple_awaitable);
    if (std::get<0>(read)) break;
    const auto& req = parser.get();
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "smtpsd");
    const auto target = std::string(req.target());
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.body() = "GET only\n";
    } else if (target == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = base::metrics().render_prometheus();
    } else if (target == "/healthz") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain");
      res.body() = "ok\n";
    } else {
      res.result(http::status::not_found);
      res.body() = "not found\n";
    }
    res.prepare_payload();
    auto written = co_await http::async_write(stream, res, net::as_tuple_awaitable);
    if (std::get<0>(written) || !res.keep_alive()) break;
  }
  net::error_code ignored;
  stream.socket().shutdown(net::tcp::socket::shutdown_both, ignored);
}

}  // namespace smtpsd::admin
