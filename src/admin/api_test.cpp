// The API without sockets: requests straight into api::handle with
// in-memory stores, for what a handler must never see (no token, a wrong
// one, a read-only one on a change, a body that is not what the route
// takes) and for the OpenAPI description matching the routes.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "admin/api.hpp"
#include "service/tokens.hpp"
#include "store/memory/memory_stores.hpp"

namespace smtpsd::admin {
namespace {

net::awaitable<void> ask(api& a, const request& req, const std::string& ip, std::optional<response>& out) {
  out = co_await a.handle(req, ip);
}

struct ApiTest : ::testing::Test {
  ApiTest() {
    cfg.data_dir = std::filesystem::temp_directory_path();
    service::env e{cfg, stores, clock};
    writer = service::add_token(e, "writer", false)["token"];
    reader = service::add_token(e, "reader", true)["token"];
  }

  response call(http::verb method, const std::string& target, const std::string& token, const std::string& body = "",
                const std::string& ip = "192.0.2.1") {
    request req{method, target, 11};
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.body() = body;
    req.prepare_payload();
    net::asio::io_context io;
    std::optional<response> out;
    net::asio::co_spawn(io, ask(a, req, ip, out), net::asio::detached);
    io.run();
    return std::move(*out);
  }
  static json body_of(const response& r) { return json::parse(r.body()); }

  config::config cfg;
  store::stores stores = store::memory::open();
  base::manual_clock clock;
  net::worker_pool pool{1};
  policy::auth_throttle throttle{clock, 3, std::chrono::seconds(600)};
  api a{cfg, stores, pool, throttle, clock.now()};
  std::string writer, reader;
};

TEST_F(ApiTest, TokensDecideBeforeAnythingElse) {
  auto none = call(http::verb::get, "/api/v1/accounts", "");
  EXPECT_EQ(none.result(), http::status::unauthorized);
  EXPECT_EQ(none[http::field::www_authenticate], "Bearer");
  // A wrong token with a bad body: 401, not 400 (nothing is read for strangers).
  auto wrong = call(http::verb::post, "/api/v1/accounts", "smtpsd_nope", "{not json");
  EXPECT_EQ(wrong.result(), http::status::unauthorized);
  EXPECT_EQ(body_of(wrong), (json{{"error", "the token is not valid"}}));
  auto ro = call(http::verb::post, "/api/v1/accounts", reader, R"({"name": "acme"})");
  EXPECT_EQ(ro.result(), http::status::forbidden);
  EXPECT_FALSE(stores.accounts->find_account("acme"));
  auto ok = call(http::verb::post, "/api/v1/accounts", writer, R"({"name": "acme"})");
  EXPECT_EQ(ok.result(), http::status::created);
  EXPECT_EQ(body_of(ok)["name"], "acme");
  EXPECT_EQ(call(http::verb::get, "/api/v1/accounts/acme", reader).result(), http::status::ok);
}

// The server settles the queue rows of answered messages before a handler
// reads (group_committer::settle): what a client was told is queued, the API
// shows. A stranger's request settles nothing.
TEST_F(ApiTest, EveryAuthorizedRequestSettlesFirst) {
  int settled = 0;
  a.settle_with([&] { ++settled; });
  EXPECT_EQ(call(http::verb::get, "/api/v1/queue", "").result(), http::status::unauthorized);
  EXPECT_EQ(settled, 0);
  EXPECT_EQ(call(http::verb::get, "/api/v1/queue", reader).result(), http::status::ok);
  EXPECT_EQ(settled, 1);
  EXPECT_NE(call(http::verb::delete_, "/api/v1/queue/nope", writer).result(), http::status::unauthorized);
  EXPECT_EQ(settled, 2) << "changes too: a DELETE right after a 250 must find the message";
}

TEST_F(ApiTest, FailedTokenChecksAreThrottledPerAddress) {
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(call(http::verb::get, "/api/v1/server", "bad", "", "192.0.2.7").result(), http::status::unauthorized);
  auto throttled = call(http::verb::get, "/api/v1/server", writer, "", "192.0.2.7");
  EXPECT_EQ(throttled.result(), http::status::too_many_requests);
  EXPECT_FALSE(throttled[http::field::retry_after].empty());
  EXPECT_EQ(call(http::verb::get, "/api/v1/server", writer, "", "192.0.2.8").result(), http::status::ok);
  clock.advance(std::chrono::seconds(601));
  EXPECT_EQ(call(http::verb::get, "/api/v1/server", writer, "", "192.0.2.7").result(), http::status::ok);
}

TEST_F(ApiTest, BodiesAndQueriesAreCheckedAgainstTheRoute) {
  struct probe {
    http::verb method;
    std::string target, body;
    http::status want;
    std::string error;
  };
  const std::vector<probe> probes = {
      {http::verb::post, "/api/v1/accounts", "[1]", http::status::bad_request, "the request body must be a JSON object"},
      {http::verb::post, "/api/v1/accounts", "{", http::status::bad_request, "the request body is not valid JSON"},
      {http::verb::post, "/api/v1/accounts", R"({"name": "x", "y": 1})", http::status::bad_request, "unknown field \"y\""},
      {http::verb::post, "/api/v1/accounts", R"({"max_24h": 5})", http::status::bad_request, "\"name\" is required"},
      {http::verb::post, "/api/v1/tokens", R"({"name": "t", "read_only": "yes"})", http::status::bad_request,
       "\"read_only\" must be true or false"},
      {http::verb::get, "/api/v1/queue?limit=5000", "", http::status::bad_request, "limit must be 1 to 1000"},
      {http::verb::get, "/api/v1/queue?limit=1&limit=2", "", http::status::bad_request, "a query parameter is repeated"},
      {http::verb::get, "/api/v1/events?before=-1", "", http::status::bad_request,
       "\"before\" must be a whole number, got \"-1\""},
      {http::verb::get, "/api/v1/accounts/nobody", "", http::status::not_found, "no account named \"nobody\""},
      {http::verb::delete_, "/api/v1/accounts", "", http::status::method_not_allowed,
       "this resource does not take that method"},
      {http::verb::get, "/api/v2/accounts", "", http::status::not_found, "no such API resource"},
      {http::verb::post, "/api/v1/events/redeliver", "{}", http::status::bad_request,
       "give either \"event_id\" or \"all\": true"},
  };
  for (auto& p : probes) {
    auto r = call(p.method, p.target, writer, p.body);
    EXPECT_EQ(r.result(), p.want) << p.target << " " << p.body;
    EXPECT_EQ(r[http::field::content_type], "application/json");
    EXPECT_EQ(body_of(r), (json{{"error", p.error}})) << p.target << " " << p.body;
  }
}

TEST_F(ApiTest, PathParametersArePercentDecoded) {
  call(http::verb::post, "/api/v1/suppression", writer, R"({"address": "a+b@example.org"})");
  auto r = call(http::verb::get, "/api/v1/suppression/a%2Bb%40example.org", writer);
  EXPECT_EQ(r.result(), http::status::ok);
  EXPECT_EQ(body_of(r)["address"], "a+b@example.org");
  EXPECT_EQ(call(http::verb::get, "/api/v1/suppression?search=a%2B", writer).result(), http::status::ok);
  EXPECT_EQ(body_of(call(http::verb::get, "/api/v1/suppression?search=a%2B", writer))["items"].size(), 1u);
}

TEST(ApiPaths, MatchOnlyWholeSegments) {
  auto m = match_path("/api/v1/accounts/{name}/quota", {"api", "v1", "accounts", "acme", "quota"});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("name"), "acme");
  EXPECT_FALSE(match_path("/api/v1/accounts/{name}", {"api", "v1", "accounts"}));
  EXPECT_FALSE(match_path("/api/v1/accounts/{name}", {"api", "v1", "accounts", ""}));
  EXPECT_FALSE(match_path("/api/v1/accounts/{name}", {"api", "v1", "accounts", "acme", "quota"}));
  EXPECT_FALSE(match_path("/api/v1/accounts", {"api", "v1", "account"}));
}

TEST(ApiDescription, DescribesEveryRouteAndItsParameters) {
  auto routes = api_routes();
  auto doc = openapi(routes);
  EXPECT_EQ(doc["openapi"], "3.1.0");
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& r : routes) {
    std::string method(http::to_string(r.method));
    for (auto& c : method) c = static_cast<char>(std::tolower(c));
    ASSERT_TRUE(doc["paths"].contains(r.pattern)) << r.pattern;
    ASSERT_TRUE(doc["paths"][r.pattern].contains(method)) << method << " " << r.pattern;
    EXPECT_TRUE(seen.insert({method, r.pattern}).second) << "twice: " << method << " " << r.pattern;
    const auto& op = doc["paths"][r.pattern][method];
    std::set<std::string> declared;
    for (auto& p : op.value("parameters", json::array()))
      if (p["in"] == "path") declared.insert(p["name"]);
    static const std::regex placeholder(R"(\{([a-z_]+)\})");
    std::set<std::string> used;
    for (std::sregex_iterator it(r.pattern.begin(), r.pattern.end(), placeholder), end; it != end; ++it)
      used.insert((*it)[1].str());
    EXPECT_EQ(declared, used) << r.pattern;
    EXPECT_TRUE(op["responses"].contains(std::to_string(static_cast<unsigned>(r.ok))));
    EXPECT_EQ(op.contains("requestBody"), !r.body.empty()) << r.pattern;
  }
}

}  // namespace
}  // namespace smtpsd::admin
