#include "admin/http_server.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "admin/api.hpp"
#include "admin/assets.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
#include "net/coro.hpp"
#include "net/listener.hpp"

namespace smtpsd::admin {

namespace {

std::shared_ptr<spdlog::logger> log() { return base::logger("admin"); }

constexpr auto request_timeout = std::chrono::seconds(30);

// The page may run only its own script and style, talk only to this server,
// and not be framed.
constexpr const char* page_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

response text_response(http::status s, std::string text, const request& req) {
  response res{s, req.version()};
  res.keep_alive(req.keep_alive());
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(text);
  res.prepare_payload();
  return res;
}

response asset_response(const asset& a, const request& req) {
  if (req[http::field::if_none_match] == a.etag) {
    response res{http::status::not_modified, req.version()};
    res.keep_alive(req.keep_alive());
    res.set(http::field::etag, a.etag);
    return res;
  }
  response res{http::status::ok, req.version()};
  res.keep_alive(req.keep_alive());
  res.set(http::field::content_type, a.content_type);
  res.set(http::field::etag, a.etag);
  res.set(http::field::cache_control, "no-cache");  // revalidate: a new binary may serve new files
  if (a.content_type.starts_with("text/html")) {
    res.set("Content-Security-Policy", page_policy);
    res.set("X-Frame-Options", "DENY");
  }
  res.body() = std::string(a.body);
  res.prepare_payload();
  return res;
}

// Everything but the API: the health check, the metrics, the dashboard.
response plain_answer(const request& req, std::string_view path) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = text_response(http::status::method_not_allowed, "GET only\n", req);
    res.set(http::field::allow, "GET, HEAD");
    res.prepare_payload();
    return res;
  }
  if (path == "/healthz") return text_response(http::status::ok, "ok\n", req);
  if (path == "/metrics") {
    auto res = text_response(http::status::ok, base::metrics().render_prometheus(), req);
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    return res;
  }
  if (auto* a = find_asset(path == "/index.html" ? "/" : path)) return asset_response(*a, req);
  return text_response(http::status::not_found, "not found\n", req);
}

net::awaitable<response> answer(const request& req, api* api, const std::string& client_ip) {
  const std::string_view target = req.target();
  const auto path = target.substr(0, target.find('?'));
  if (path == "/api/v1" || path.starts_with("/api/v1/")) {
    if (!api) co_return error_response(http::status::not_found, "the API is not enabled", req);
    auto res = co_await api->handle(req, client_ip);
    co_return res;
  }
  co_return plain_answer(req, path);
}

void finish(response& res, const request& req) {
  res.set(http::field::server, "smtpsd");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  if (req.method() == http::verb::head) {
    auto length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
}

// Answers a request whose body is not read, then reads (and drops) what the
// client still sends for a moment: closing with unread data would reset the
// connection, and the client could lose the answer.
template <class Stream>
net::awaitable<void> write_refusal(Stream& stream, net::beast::tcp_stream& tcp, const request& req, http::status s,
                                   const std::string& text) {
  auto res = error_response(s, text, req);
  res.keep_alive(false);
  finish(res, req);
  auto written = co_await http::async_write(stream, res, net::as_tuple_awaitable);
  if (std::get<0>(written)) co_return;
  std::vector<char> sink(64 * 1024);
  tcp.expires_after(std::chrono::seconds(2));
  for (std::size_t dropped = 0; dropped < 64 * http_server::max_body;) {
    auto got = co_await stream.async_read_some(net::asio::buffer(sink), net::as_tuple_awaitable);
    if (std::get<0>(got)) break;
    dropped += std::get<1>(got);
  }
}

// Requests on one connection until it closes, fails, times out or asks to close.
template <class Stream>
net::awaitable<void> serve_requests(Stream& stream, net::beast::tcp_stream& tcp, api* api,
                                    const std::string& client_ip) {
  net::beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(http_server::max_body);
    tcp.expires_after(request_timeout);
    // A Content-Length over the limit fails the header's read; a chunked
    // body, the body's.
    auto head = co_await http::async_read_header(stream, buf, parser, net::as_tuple_awaitable);
    auto ec = std::get<0>(head);
    if (!ec) {
      auto read = co_await http::async_read(stream, buf, parser, net::as_tuple_awaitable);
      ec = std::get<0>(read);
    }
    if (ec == http::error::body_limit) {
      const std::string too_big = "the request body is over 1 MiB";
      request refused = parser.get();
      co_await write_refusal(stream, tcp, refused, http::status::payload_too_large, too_big);
      break;
    }
    if (ec) break;
    request req = parser.release();
    auto res = co_await answer(req, api, client_ip);
    finish(res, req);
    const bool keep = res.keep_alive();
    auto written = co_await http::async_write(stream, res, net::as_tuple_awaitable);
    if (std::get<0>(written) || !keep) break;
  }
}

struct connection_slot {
  std::shared_ptr<std::atomic<int>> open;
  ~connection_slot() { --*open; }
};

}  // namespace

http_server::http_server(net::asio::io_context& io, http_settings s)
    : io_(io), settings_(std::move(s)), acceptor_(net::bind_acceptor(io, settings_.listen.host, settings_.listen.port)) {}

http_server::~http_server() = default;

net::tcp::endpoint http_server::local_endpoint() const { return acceptor_.local_endpoint(); }

void http_server::start() {
  log()->info("admin listening on {}", net::to_string(local_endpoint()));
  if (settings_.tls) log()->info("admin speaks HTTPS with the [tls] certificates");
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
    if (open_->load() >= max_connections) {
      net::error_code ignored;
      a.socket.close(ignored);
      continue;
    }
    ++*open_;
    net::spawn(io_.get_executor(), serve(std::move(a.socket)), "admin connection");
  }
}

net::awaitable<void> http_server::serve(net::tcp::socket s) {
  connection_slot slot{open_};
  net::error_code ec;
  auto peer = s.remote_endpoint(ec);
  const std::string client_ip = ec ? std::string("unknown") : peer.address().to_string();
  if (!settings_.tls) {
    net::beast::tcp_stream stream(std::move(s));
    co_await serve_requests(stream, stream, settings_.api, client_ip);
    stream.socket().shutdown(net::tcp::socket::shutdown_both, ec);
    co_return;
  }
  auto tls = settings_.tls->get();  // kept for the connection, whatever a reload does
  net::beast::ssl_stream<net::beast::tcp_stream> stream(std::move(s), tls->context());
  auto& tcp = net::beast::get_lowest_layer(stream);
  tcp.expires_after(std::chrono::seconds(10));
  auto shake = co_await stream.async_handshake(net::ssl::stream_base::server, net::as_tuple_awaitable);
  if (std::get<0>(shake)) co_return;
  co_await serve_requests(stream, tcp, settings_.api, client_ip);
  tcp.expires_after(std::chrono::seconds(2));
  auto closed = co_await stream.async_shutdown(net::as_tuple_awaitable);
  (void)closed;
}

}  // namespace smtpsd::admin
