#pragma once
// The HTTP API (SPEC §8) under /api/v1/: thin handlers over service/, the
// same operations and JSON as the CLI. Every call needs
// "Authorization: Bearer TOKEN"; a read-only token gets 403 on changes;
// failed token checks are throttled per client address as SMTP AUTH is.
// Bodies are JSON objects checked against the route's fields before the
// handler runs; errors are {"error": TEXT} with 400, 401, 403, 404, 405,
// 409, 413, 429 or 503. Service calls block, so they run on the worker pool.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "net/asio.hpp"
#include "net/worker_pool.hpp"
#include "config/config.hpp"
#include "policy/connections.hpp"
#include "service/service.hpp"

namespace smtpsd::admin {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;
using service::json;

// A query parameter or a field of a JSON body, as the OpenAPI description
// shows it and as the request is checked against.
struct field {
  enum class kind { string, integer, boolean, limit };  // limit: a number or "default"
  std::string name;
  kind type = kind::string;
  std::string description;
  bool required = false;
};

// What a handler gets: the path's {parameters}, the query, the checked body.
struct call {
  std::map<std::string, std::string> path;
  std::map<std::string, std::string> query;
  json body = json::object();
  base::time_point started;  // when the server started (GET /server)

  const std::string& param(const std::string& name) const { return path.at(name); }
  std::string query_or(const std::string& name, const std::string& fallback = "") const;
  std::size_t limit(std::size_t fallback, std::size_t max) const;  // the "limit" query parameter
  // A body field as text ("default", "true", "12"), if present.
  std::optional<std::string> text(const std::string& name) const;
};

struct route {
  http::verb method;
  std::string pattern;  // "/api/v1/accounts/{name}"
  std::string summary;
  std::function<json(service::env&, const call&)> handle;
  bool changes = false;  // refused to read-only tokens
  http::status ok = http::status::ok;
  std::vector<field> query;
  std::vector<field> body;
  json example;  // a body that works, for the description; null if none
};

class api {
 public:
  api(const config::config& cfg, store::stores stores, net::worker_pool& pool, policy::auth_throttle& throttle,
      base::time_point started);

  // The answer to a request for a path under /api/v1/.
  net::awaitable<response> handle(const request& req, const std::string& client_ip);
  const std::vector<route>& routes() const { return routes_; }
  // Run on the worker pool before each handler: the server commits the
  // queue rows of messages it has answered (group_committer::settle), so
  // that what a client was told is queued, the API shows.
  void settle_with(std::function<void()> f) { settle_ = std::move(f); }

 private:
  struct outcome {
    http::status status;
    json body;
  };
  // On the worker pool: the token's check, the query's and the body's, then the handler.
  outcome authorize_and_run(const route& r, call& c, const std::string& body, const std::string& token,
                            const std::string& client_ip);

  service::env env_;
  net::worker_pool& pool_;
  policy::auth_throttle& throttle_;
  base::time_point started_;
  std::vector<route> routes_;
  std::function<void()> settle_;
};

// {"error": text} with a status.
response error_response(http::status s, const std::string& text, const request& req);
response json_response(http::status s, const json& body, const request& req);

// Where a path matches a pattern, its {parameters} (percent-decoded).
std::optional<std::map<std::string, std::string>> match_path(std::string_view pattern,
                                                             const std::vector<std::string>& segments);

// The routes, shared by the server and its tests (api_routes.cpp).
std::vector<route> api_routes();
// The OpenAPI 3.1 description of the routes (openapi.cpp).
json openapi(const std::vector<route>& routes);

}  // namespace smtpsd::admin
