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

std::vector<net::http_post> numbered_posts(int n) {
  std::vector<net::http_post> out;
  for (int i = 0; i < n; ++i) out.push_back({"{\"n\":" + std::to_string(i) + "}", {{"Smtpsd-Event-Id", std::to_string(i)}}});
  return out;
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
    auto many = run(io, c.post_pipelined(numbered_posts(3)));  // pipelined: each fails the same way
    ASSERT_EQ(many.size(), 3u);
    for (auto& m : many) EXPECT_NE(m.error.find("timed out"), std::string::npos) << m.status << " " << m.error;
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

TEST(http_client, pipelined_posts_go_in_one_write_and_are_answered_in_order) {
  net::asio::io_context io;
  net::testing::fake_http_server srv(io);
  srv.answer_after = 8;  // a client that waited for each answer would wait forever
  net::http_client::options o;
  o.timeout = std::chrono::seconds(5);
  net::http_client c(io.get_executor(), *net::parse_http_url(srv.url()), nullptr, o);
  auto results = run(io, c.post_pipelined(numbered_posts(8)));
  ASSERT_EQ(results.size(), 8u);
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(results[i].status, 200) << i << ": " << results[i].error;
  EXPECT_EQ(srv.connections, 1);
  ASSERT_EQ(srv.requests.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(srv.requests[static_cast<std::size_t>(i)].event_id, std::to_string(i));
  // The connection stays for the next batch; answers keep their order.
  srv.answer_after = 0;
  srv.script = {503, 200, 400};
  auto next = run(io, c.post_pipelined(numbered_posts(3)));
  EXPECT_EQ(next[0].status, 503);
  EXPECT_EQ(next[1].status, 200);
  EXPECT_EQ(next[2].status, 400);
  EXPECT_EQ(srv.connections, 1);
}

TEST(http_client, pipelined_posts_left_unanswered_by_a_closing_server_go_again) {
  net::asio::io_context io;
  net::testing::fake_http_server srv(io);
  srv.answers_per_connection = 3;
  net::http_client c(io.get_executor(), *net::parse_http_url(srv.url()), nullptr, {});
  auto results = run(io, c.post_pipelined(numbered_posts(10)));
  for (auto& r : results) EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(srv.connections, 4) << "3 + 3 + 3 + 1";
  // Each connection was sent everything still unanswered and answered the first three: each request once.
  ASSERT_EQ(srv.requests.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(srv.requests[static_cast<std::size_t>(i)].event_id, std::to_string(i));
}
