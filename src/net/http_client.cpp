#include "net/http_client.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <fmt/format.h>

#include <sstream>

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

struct pipelined {
  error_code ec;                   // why the answers stopped short, if they did
  std::vector<exchanged> answers;  // in the order of the requests
};

// `count` requests, serialized in `wire`, written at once; then their
// answers read in order (the first read usually brings them all) until one
// fails or says the connection closes after it.
template <class Stream>
net::awaitable<pipelined> exchange_pipelined(Stream& s, beast::flat_buffer& buf, std::string_view wire,
                                             std::size_t count, const http_client::options& o) {
  pipelined out;
  const auto data = asio::buffer(wire.data(), wire.size());
  auto written = co_await asio::async_write(s, data, as_tuple_awaitable);
  if (std::get<0>(written)) {
    out.ec = std::get<0>(written);
    co_return out;
  }
  while (out.answers.size() < count) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(o.max_body);
    auto read = co_await http::async_read(s, buf, parser, as_tuple_awaitable);
    if (std::get<0>(read)) {
      out.ec = std::get<0>(read);
      co_return out;
    }
    auto& res = parser.get();
    out.answers.push_back({{}, true, static_cast<int>(res.result_int()), std::move(res.body()), res.keep_alive()});
    if (!out.answers.back().keep_alive) break;
  }
  co_return out;
}

http::request<http::string_body> make_request(const http_url& url, http::verb verb, const std::string& body,
                                              const http_headers& headers) {
  http::request<http::string_body> req{verb, url.target, 11};
  req.set(http::field::host, url.port == (url.https ? 443 : 80) ? url.host : url.host + ":" + std::to_string(url.port));
  req.set(http::field::user_agent, "smtpsd");
  for (auto& [k, v] : headers) req.set(k, v);
  if (verb == http::verb::post) req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();
  return req;
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
  net::awaitable<pipelined> send_pipelined(std::string_view wire, std::size_t count, const options& o) {
    if (tls_) {
      auto r = co_await exchange_pipelined(*tls_, buf_, wire, count, o);
      co_return r;
    }
    auto r = co_await exchange_pipelined(plain_, buf_, wire, count, o);
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
  std::vector<tcp::endpoint> endpoints = o_.connect_to;
  if (endpoints.empty()) {
    tcp::resolver resolver(ex_);
    const auto port = std::to_string(url_.port);
    auto found = co_await resolver.async_resolve(url_.host, port, as_tuple_awaitable);
    if (std::get<0>(found)) {
      error = "cannot resolve " + url_.host + ": " + std::get<0>(found).message();
      co_return nullptr;
    }
    for (const auto& e : std::get<1>(found)) endpoints.push_back(e.endpoint());
  }
  auto c = std::make_unique<connection>(ex_, url_.https ? tls_.get() : nullptr);
  c->lowest().expires_after(o_.timeout);
  auto connected = co_await c->lowest().async_connect(endpoints, as_tuple_awaitable);
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

// An idle connection, unless `fresh`; else a new one (null, with `error`, when none opens).
net::awaitable<std::unique_ptr<http_client::connection>> http_client::take(bool fresh, std::string& error) {
  if (!fresh && !idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    co_return c;
  }
  auto c = co_await open(error);
  co_return c;
}

net::awaitable<http_result> http_client::request(http::verb verb, const std::string& body, const http_headers& headers) {
  auto req = make_request(url_, verb, body, headers);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = attempt == 0 && !idle_.empty();
    std::string error;
    auto c = co_await take(!reused, error);
    if (!c) co_return http_result{0, error, {}};
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

std::string http_client::serialize(http::verb verb, const std::string& body, const http_headers& headers) const {
  std::ostringstream out;
  out << make_request(url_, verb, body, headers);
  return std::move(out).str();
}

// Each round writes what is still unanswered on one connection. A round that
// gets some answers is progress, and the rest go again on a new connection
// (the server may close after any answer); a round that gets none ends it,
// but for a reused connection found stale, which is replaced once.
net::awaitable<std::vector<http_result>> http_client::post_pipelined(const std::vector<http_post>& posts) {
  std::vector<http_result> out(posts.size());
  std::string wire;
  std::vector<std::size_t> starts;
  for (auto& p : posts) {
    starts.push_back(wire.size());
    wire += serialize(http::verb::post, p.body, p.headers);
  }
  std::size_t next = 0;
  bool stale_retried = false;
  while (next < posts.size()) {
    const bool reused = !stale_retried && !idle_.empty();
    std::string error;
    auto c = co_await take(!reused, error);
    if (!c) {
      for (; next < posts.size(); ++next) out[next] = http_result{0, error, {}};
      break;
    }
    watch(*c);
    const auto rest = std::string_view(wire).substr(starts[next]);
    auto got = co_await c->send_pipelined(rest, posts.size() - next, o_);
    unwatch(*c);
    for (auto& a : got.answers) out[next++] = http_result{a.status, {}, std::move(a.body)};
    if (next == posts.size() && !got.ec) {
      if (got.answers.back().keep_alive && idle_.size() < o_.max_idle) idle_.push_back(std::move(c));
      break;
    }
    if (!got.answers.empty()) continue;
    if (reused && !stale_retried) {
      stale_retried = true;
      continue;
    }
    if (got.ec && c->timed_out) got.ec = beast::error::timeout;
    const auto why = url_.origin() + ": " + (got.ec ? describe(got.ec) : std::string("no answer"));
    for (; next < posts.size(); ++next) out[next] = http_result{0, why, {}};
  }
  co_return out;
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
