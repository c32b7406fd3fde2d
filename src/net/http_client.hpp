#pragma once
// An HTTP/1.1 client for one origin (Boost.Beast; URLs parsed by
// Boost.URL): keep-alive connections, every step under a deadline, the
// response body bounded, HTTPS verified against the system CAs or a given CA
// file (TLS 1.2+, SNI, host-name check). A request that fails on a reused
// connection before any answer is tried once more on a new one. Failures
// come back as values. One io_context thread only.
//
// post_pipelined() writes several POSTs at once on one connection and reads
// the answers in order (RFC 9112 §9.3.2): one write and, mostly, one read
// for all of them. Only for callers that recover from partial failure (the
// webhooks: every event has an id, and what was not answered is sent again).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "base/url.hpp"
#include "net/asio.hpp"

namespace smtpsd::net {

using base::http_url;
using base::parse_http_url;

struct http_result {
  int status = 0;     // 0: no HTTP answer; error says why
  std::string error;  // "connection refused", "timed out", "certificate verify failed", …
  std::string body;   // at most max_body octets
};

using http_headers = std::vector<std::pair<std::string, std::string>>;

struct http_post {
  std::string body;
  http_headers headers;
};

class http_client {
 public:
  struct options {
    std::chrono::seconds timeout{10};     // per request, connecting included
    std::size_t max_body = 64 * 1024;     // of a response
    std::size_t max_idle = 8;             // keep-alive connections kept
    // Connect here instead of resolving the URL's host with the system's
    // resolver (the caller looked it up with its own DNS); TLS still checks
    // the URL's host name.
    std::vector<tcp::endpoint> connect_to;
  };
  // tls: required for https (net::make_client_context), ignored for http.
  http_client(asio::any_io_executor ex, http_url url, std::shared_ptr<ssl::context> tls, options o);
  ~http_client();

  net::awaitable<http_result> post(const std::string& body, const http_headers& headers);
  // One result per request, in order. A request left unanswered when the
  // server closes the connection goes again on a new one; one that no
  // connection answers fails with status 0.
  net::awaitable<std::vector<http_result>> post_pipelined(const std::vector<http_post>& posts);
  net::awaitable<http_result> get(const http_headers& headers);
  const http_url& url() const { return url_; }

 private:
  class connection;
  net::awaitable<http_result> request(beast::http::verb verb, const std::string& body, const http_headers& headers);
  std::string serialize(beast::http::verb verb, const std::string& body, const http_headers& headers) const;
  net::awaitable<std::unique_ptr<connection>> take(bool fresh, std::string& error);
  net::awaitable<std::unique_ptr<connection>> open(std::string& error);
  void watch(connection& c);
  void unwatch(connection& c);
  void arm();

  asio::any_io_executor ex_;
  http_url url_;
  std::shared_ptr<ssl::context> tls_;
  options o_;
  std::vector<std::unique_ptr<connection>> idle_;
  std::vector<connection*> busy_;  // requests in flight, for the watchdog
  asio::steady_timer watchdog_;
  bool watching_ = false;
};

}  // namespace smtpsd::net
