#include "net/http_client.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <fmt/format.h>

namespace smtpsd::net {

namespace http = beast::http;

namespace {

struct exchanged {
  error_code ec;
  bool answered = false;  // some of a response arrived
  int status = 0;
  std::string body;
  bool keep_alive = false;
};

std::string describe(const error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

// One request and its response on an open stream (plain or TLS). The
// deadline is the client's watchdog's, not a timer per operation.
template <class Stream>
net::awaitable<exchanged> exchange(Stream& s, beast::flat_buffer& buf, http::request<http::string_body>& req,
                                   const http_client::options& o) {
  exchanged out;
  auto written = co_await http::async_write(s, req, as_tuple_awaitable);
  if (std::get<0>(written)) {
    out.ec = std::get<0>(written);
    co_return out;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(o.max_body);
  auto read = co_await http::async_read(s, buf, parser, as_tuple_awaitable);
  out.answered = parser.got_some();
  if (std::get<0>(read)) {
    out.ec = std::get<0>(read);
    co_return out;
  }
  auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  out.keep_alive = res.keep_alive();
  co_return out;
}

}  // namespace

class http_client::connection {
 public:
  connection(const asio::any_io_executor& ex, ssl::context* tls) : plain_(ex) {
    if (tls) tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, *tls);
  }
  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : plain_; }
  net::awaitable<exchanged> send(http::request<http::string_body>& req, const options& o) {
    if (tls_) {
      auto r = co_await exchange(*tls_, buf_, req, o);
      co_return r;
    }
    auto r = co_await exchange(plain_, buf_, req, o);
    co_return r;
  }
  // TLS with SNI and the host name checked against the certificate.
  net::awaitable<error_code> handshake(const std::string& host, std::chrono::seconds timeout) {
    if (!SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str())) co_return error_code(asio::error::invalid_argument);
    tls_->set_verify_callback(ssl::host_name_verification(host));
    lowest().expires_after(timeout);
    auto r = co_await tls_->async_handshake(ssl::stream_base::client, as_tuple_awaitable);
    lowest().expires_never();
    co_return std::get<0>(r);
  }
  bool is_tls() const { return tls_ != nullptr; }
  // Past its deadline: the watchdog closes the socket and the request fails as timed out.
  void expire() {
    timed_out = true;
    error_code ignored;
    lowest().socket().close(ignored);
  }
  std::chrono::steady_clock::time_point deadline{};
  bool timed_out = false;

 private:
  beast::tcp_stream plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buf_;
};

http_client::http_client(asio::any_io_executor ex, http_url url, std::shared_ptr<ssl::context> tls, options o)
    : ex_(std::move(ex)), url_(std::move(url)), tls_(std::move(tls)), o_(o), watchdog_(ex_) {}

http_client::~http_client() = default;

// One timer for every request in flight, armed once per timeout period
// rather than once per read and per write.
void http_client::watch(connection& c) {
  c.deadline = std::chrono::steady_clock::now() + o_.timeout;
  busy_.push_back(&c);
  arm();
}

void http_client::arm() {
  if (watching_ || busy_.empty()) return;
  watching_ = true;
  auto first = busy_.front()->deadline;
  for (auto* c : busy_) first = std::min(first, c->deadline);
  watchdog_.expires_at(first);
  watchdog_.async_wait([this](const error_code& ec) {
    if (ec) return;  // cancelled: the client is going away
    watching_ = false;
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(busy_, [&](connection* c) {
      if (c->deadline > now) return false;
      c->expire();
      return true;
    });
    arm();
  });
}

void http_client::unwatch(connection& c) { std::erase(busy_, &c); }

net::awaitable<std::unique_ptr<http_client::connection>> http_client::open(std::string& error) {
  tcp::resolver resolver(ex_);
  const auto port = std::to_string(url_.port);
  auto found = co_await resolver.async_resolve(url_.host, port, as_tuple_awaitable);
  if (std::get<0>(found)) {
    error = "cannot resolve " + url_.host + ": " + std::get<0>(found).message();
    co_return nullptr;
  }
  auto c = std::make_unique<connection>(ex_, url_.https ? tls_.get() : nullptr);
  c->lowest().expires_after(o_.timeout);
  auto connected = co_await c->lowest().async_connect(std::get<1>(found), as_tuple_awaitable);
  c->lowest().expires_never();
  if (std::get<0>(connected)) {
    error = "cannot connect to " + url_.origin() + ": " + describe(std::get<0>(connected));
    co_return nullptr;
  }
  error_code ignored;
  c->lowest().socket().set_option(tcp::no_delay(true), ignored);
  if (c->is_tls()) {
    const auto ec = co_await c->handshake(url_.host, o_.timeout);
    if (ec) {
      error = "TLS with " + url_.origin() + " failed: " + describe(ec);
      co_return nullptr;
    }
  }
  co_return c;
}

net::awaitable<http_result> http_client::request(http::verb verb, const std::string& body, const http_headers& headers) {
  http::request<http::string_body> req{verb, url_.target, 11};
  req.set(http::field::host, url_.port == (url_.https ? 443 : 80) ? url_.host : url_.host + ":" + std::to_string(url_.port));
  req.set(http::field::user_agent, "smtpsd");
  for (auto& [k, v] : headers) req.set(k, v);
  if (verb == http::verb::post) req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<connection> c;
    const bool reused = attempt == 0 && !idle_.empty();
    if (reused) {
      c = std::move(idle_.back());
      idle_.pop_back();
    } else {
      std::string error;
      c = co_await open(error);
      if (!c) co_return http_result{0, error, {}};
    }
    watch(*c);
    auto got = co_await c->send(req, o_);
    unwatch(*c);
    if (got.ec && c->timed_out) got.ec = beast::error::timeout;
    if (!got.ec) {
      if (got.keep_alive && idle_.size() < o_.max_idle) idle_.push_back(std::move(c));
      co_return http_result{got.status, {}, std::move(got.body)};
    }
    if (reused && !got.answered) continue;  // a stale keep-alive connection: once more on a new one
    co_return http_result{0, url_.origin() + ": " + describe(got.ec), {}};
  }
  co_return http_result{0, url_.origin() + ": no answer", {}};
}

net::awaitable<http_result> http_client::post(const std::string& body, const http_headers& headers) {
  auto r = co_await request(http::verb::post, body, headers);
  co_return r;
}

net::awaitable<http_result> http_client::get(const http_headers& headers) {
  const std::string none;
  auto r = co_await request(http::verb::get, none, headers);
  co_return r;
}

}  // namespace smtpsd::net
