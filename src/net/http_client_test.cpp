// The HTTP client against a Beast server in the same io_context.
#include "net/http_client.hpp"

#include <gtest/gtest.h>

#include "net/testing/fake_http_server.hpp"

using namespace smtpsd;

namespace {

template <class T>
T run(net::asio::io_context& io, net::awaitable<T> a) {
  std::optional<T> out;
  net::asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    out = std::move(v);
  });
  while (!out) io.run_one();
  return std::move(*out);
}

}  // namespace

TEST(http_client, urls) {
  auto u = net::parse_http_url("https://hooks.example.com/smtpsd/events?key=1");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->host, "hooks.example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/smtpsd/events?key=1");
  auto p = net::parse_http_url("http://127.0.0.1:8080");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->port, 8080);
  EXPECT_EQ(p->target, "/");
  EXPECT_EQ(net::parse_http_url("http://[::1]:9/x")->host, "::1");
  for (auto bad : {"ftp://example.com/", "example.com/hook", "http:///path", "https://user:pw@example.com/",
                   "http://example.com:0/", "not a url"})
    EXPECT_FALSE(net::parse_http_url(bad)) << bad;
}

TEST(http_client, posts_and_reuses_the_connection) {
  net::asio::io_context io;
  net::testing::fake_http_server srv(io);
  net::http_client c(io.get_executor(), *net::parse_http_url(srv.url()), nullptr, {});
  for (int i = 0; i < 3; ++i) {
    auto r = run(io, c.post("{\"n\":" + std::to_string(i) + "}", {{"Smtpsd-Signature", "t=1,v1=ab"}}));
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.body, "ok");
  }
  EXPECT_EQ(srv.connections, 1) << "keep-alive";
  ASSERT_EQ(srv.requests.size(), 3u);
  EXPECT_EQ(srv.requests[2].body, "{\"n\":2}");
  EXPECT_EQ(srv.requests[0].signature, "t=1,v1=ab");
  srv.status = 503;
  EXPECT_EQ(run(io, c.post("x", {})).status, 503);
}

TEST(http_client, failures_are_values) {
  net::asio::io_context io;
  {
    net::testing::fake_http_server srv(io);
    srv.silent = true;
    net::http_client::options o;
    o.timeout = std::chrono::seconds(1);
    net::http_client c(io.get_executor(), *net::parse_http_url(srv.url()), nullptr, o);
    auto r = run(io, c.post("x", {}));
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
  }
  // Nobody listening.
  net::tcp::acceptor closed = net::bind_acceptor(io, "127.0.0.1", 0);
  const auto port = closed.local_endpoint().port();
  closed.close();
  net::http_client c(io.get_executor(), *net::parse_http_url("http://127.0.0.1:" + std::to_string(port) + "/"), nullptr,
                     {});
  auto r = run(io, c.post("x", {}));
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("cannot connect"), std::string::npos) << r.error;
}
