// net::stream's deadlines. The timer is set lazily (an operation records its
// deadline; the timer is set again only when it fires early or a nearer
// deadline comes), so these check what that must keep: an operation past its
// deadline ends with timeout_error, a nearer deadline after a farther one
// still holds, a timer left from operations that finished in time does not
// end a later one, and a stream may go while its timer is still set.
#include "net/stream.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "net/coro.hpp"
#include "net/testing/test_certificate.hpp"

using namespace smtpsd;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

struct stream_pair {
  net::asio::io_context io;
  net::tcp::acceptor acceptor{io, net::tcp::endpoint(net::asio::ip::make_address("127.0.0.1"), 0)};
  net::tcp::socket client{io};
  std::unique_ptr<net::stream> server;
  stream_pair() {
    client.connect(acceptor.local_endpoint());
    server = std::make_unique<net::stream>(acceptor.accept());
  }
  void client_sends(std::string_view s) { net::asio::write(client, net::asio::buffer(s)); }
};

struct read_outcome {
  net::error_code ec;
  std::size_t n = 0;
  steady::duration took{};
};

net::awaitable<read_outcome> timed_read(net::stream& s, net::duration timeout) {
  char buf[64];
  const auto t0 = steady::now();
  auto r = co_await s.read_some(buf, sizeof buf, timeout);
  co_return read_outcome{r.ec, r.n, steady::now() - t0};
}

}  // namespace

TEST(stream, deadlines_hold_though_the_timer_is_set_lazily) {
  stream_pair p;
  std::vector<read_outcome> seen;
  net::asio::steady_timer later(p.io);
  net::asio::co_spawn(
      p.io,
      [&]() -> net::awaitable<void> {
        p.client_sends("a");
        auto first = co_await timed_read(*p.server, 5s);  // sets the timer for 5 s
        seen.push_back(first);
        auto nearer = co_await timed_read(*p.server, 100ms);  // nothing comes
        seen.push_back(nearer);
        for (int i = 0; i < 20; ++i) {  // finish in time; the timer stays set for about 50 ms
          auto ec = co_await p.server->write("x", 50ms);
          if (ec) ADD_FAILURE() << ec.message();
        }
        later.expires_after(300ms);
        later.async_wait([&](const net::error_code&) { p.client_sends("b"); });
        auto in_time = co_await timed_read(*p.server, 2s);  // outlives the 50 ms timer
        seen.push_back(in_time);
        p.client_sends("c");
        auto last = co_await timed_read(*p.server, 10s);  // sets the timer for 10 s ...
        seen.push_back(last);
      },
      net::asio::detached);
  const auto limit = steady::now() + 5s;
  while (seen.size() < 4 && steady::now() < limit) p.io.run_one_for(100ms);
  p.server.reset();  // ... and the stream goes while it is set
  p.io.run_for(50ms);

  ASSERT_EQ(seen.size(), 4u);
  EXPECT_FALSE(seen[0].ec);
  EXPECT_EQ(seen[0].n, 1u);
  EXPECT_EQ(seen[1].ec, net::timeout_error()) << "a nearer deadline after a farther one";
  EXPECT_GE(seen[1].took, 90ms);
  EXPECT_LT(seen[1].took, 2s);
  EXPECT_FALSE(seen[2].ec) << "the timer of the writes did not end the read: " << seen[2].ec.message();
  EXPECT_EQ(seen[2].n, 1u);
  EXPECT_GE(seen[2].took, 250ms);
  EXPECT_FALSE(seen[3].ec);
}

// session::read_more waits in two halves (begin_wait_readable, end_wait) so
// that no wait_readable frame sits under it while idle; the deadline must
// hold that way too.
TEST(stream, a_wait_in_two_halves_keeps_its_deadline) {
  stream_pair p;
  std::vector<net::error_code> seen;
  EXPECT_FALSE(p.server->holds_input()) << "no TLS: nothing held above the socket";
  net::asio::co_spawn(
      p.io,
      [&]() -> net::awaitable<void> {
        auto quiet = co_await p.server->begin_wait_readable(100ms);  // nothing comes
        seen.push_back(p.server->end_wait(quiet));
        p.client_sends("a");
        auto sent = co_await p.server->begin_wait_readable(5s);
        seen.push_back(p.server->end_wait(sent));
      },
      net::asio::detached);
  const auto limit = steady::now() + 5s;
  while (seen.size() < 2 && steady::now() < limit) p.io.run_one_for(100ms);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], net::timeout_error());
  EXPECT_FALSE(seen[1]) << seen[1].message();
}

// On TLS, a wait after a read that left nothing in the socket ends on the
// next edge without re-arming the descriptor (net/readable_wait.hpp); one
// after a read that filled its buffer is Asio's. Records sent in bursts,
// read in small pieces with a wait whenever OpenSSL holds nothing: every
// octet arrives, and no wait outlives the bytes it waits for.
TEST(stream, tls_waits_end_when_records_arrive) {
  stream_pair p;
  auto server_tls = net::testing::test_certificate("mail.test");
  net::ssl::context client_ctx(net::ssl::context::tls_client);
  client_ctx.set_verify_mode(net::ssl::verify_none);
  net::stream client(std::move(p.client));
  constexpr std::size_t burst = 10000, bursts = 20;
  std::size_t received = 0;
  int waits = 0;
  bool server_done = false, client_done = false;
  net::asio::co_spawn(
      p.io,
      [&]() -> net::awaitable<void> {
        auto ec = co_await p.server->accept_tls(server_tls->context(), 5s);
        if (ec) ADD_FAILURE() << "accept: " << ec.message();
        char buf[1000];
        while (!ec && received < burst * bursts) {
          if (!p.server->holds_input()) {
            auto w = co_await p.server->begin_wait_readable(5s);
            ec = p.server->end_wait(w);
            ++waits;
            if (ec) ADD_FAILURE() << "wait: " << ec.message();
          }
          auto r = co_await p.server->read_some(buf, sizeof buf, 5s);
          if (r.ec) ADD_FAILURE() << "read: " << r.ec.message();
          ec = r.ec;
          received += r.n;
        }
        server_done = true;
      },
      net::asio::detached);
  net::asio::co_spawn(
      p.io,
      [&]() -> net::awaitable<void> {
        auto ec = co_await client.connect_tls(client_ctx, "mail.test", false, 5s);
        if (ec) ADD_FAILURE() << "connect: " << ec.message();
        const std::string chunk(burst, 'x');
        net::asio::steady_timer pause(p.io);
        for (std::size_t i = 0; i < bursts && !ec; ++i) {
          ec = co_await client.write(chunk, 5s);
          if (i % 4 == 3) {  // let the server catch up and wait on an empty socket
            pause.expires_after(20ms);
            auto waited = co_await pause.async_wait(net::as_tuple_awaitable);
            (void)waited;
          }
        }
        client_done = true;
      },
      net::asio::detached);
  const auto limit = steady::now() + 10s;
  while (!(server_done && client_done) && steady::now() < limit) p.io.run_one_for(100ms);
  EXPECT_TRUE(server_done && client_done);
  EXPECT_EQ(received, burst * bursts);
  EXPECT_GE(waits, 5) << "the server waited between bursts";
}
