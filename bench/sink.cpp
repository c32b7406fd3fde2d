// A fast SMTP sink for the delivery benchmark: accepts everything, keeps
// nothing, and exits once it has received --expect messages, printing one
// JSON line with the rate it saw (from the first MAIL to the last 250). With
// --tls-cert/--tls-key it offers STARTTLS (bench/tls_policy.sh).
#include <CLI/CLI.hpp>

#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>

#include "net/asio.hpp"

using namespace smtpsd::net;

namespace {

std::atomic<long> received{0};
long expect = 0;
std::optional<std::chrono::steady_clock::time_point> first;
std::chrono::steady_clock::time_point last;
ssl::context* tls = nullptr;  // STARTTLS offered when set

// One session's commands over `s` (the socket, or TLS over it after STARTTLS).
template <class Stream>
awaitable<void> converse(Stream& s, tcp::socket& raw, bool secured) {
  asio::streambuf buf;
  auto say = [&](std::string_view text) -> awaitable<bool> {
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(text), as_tuple_awaitable);
    co_return !ec;
  };
  std::string out;
  for (;;) {
    auto [ec, n] = co_await asio::async_read_until(s, buf, "\r\n", as_tuple_awaitable);
    if (ec) co_return;
    std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<long>(n) - 2);
    buf.consume(n);
    for (auto& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (line.starts_with("EHLO")) {
      out += "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n";
      if (tls && !secured) out += "250-STARTTLS\r\n";
      out += "250 SIZE 0\r\n";
    } else if (line == "STARTTLS" && tls && !secured) {
      if (!co_await say("220 2.0.0 go ahead\r\n")) co_return;
      ssl::stream<tcp::socket&> t(raw, *tls);
      auto shook = co_await t.async_handshake(ssl::stream_base::server, as_tuple_awaitable);
      if (std::get<0>(shook)) co_return;
      co_await converse(t, raw, true);
      co_return;
    } else if (line.starts_with("MAIL")) {
      if (!first) first = std::chrono::steady_clock::now();
      out += "250 2.1.0 ok\r\n";
    } else if (line.starts_with("RCPT") || line.starts_with("RSET") || line.starts_with("NOOP")) {
      out += "250 2.1.5 ok\r\n";
    } else if (line == "DATA") {
      out += "354 go\r\n";
      if (!co_await say(out)) co_return;
      out.clear();
      auto [e2, m] = co_await asio::async_read_until(s, buf, "\r\n.\r\n", as_tuple_awaitable);
      if (e2) co_return;
      buf.consume(m);
      out += "250 2.0.0 stored\r\n";
      last = std::chrono::steady_clock::now();
      if (++received == expect) {
        co_await say(out);
        const double secs = std::chrono::duration<double>(last - *first).count();
        std::printf("{\"messages\":%ld,\"seconds\":%.3f,\"messages_per_second\":%.1f}\n", received.load(), secs,
                    static_cast<double>(received.load()) / secs);
        std::fflush(stdout);
        std::exit(0);
      }
    } else if (line == "QUIT") {
      co_await say("221 bye\r\n");
      co_return;
    } else {
      out += "250 ok\r\n";
    }
    if (buf.size() == 0) {  // answer everything pipelined at once
      if (!co_await say(out)) co_return;
      out.clear();
    }
  }
}

awaitable<void> serve(tcp::socket s) {
  const std::string_view banner = "220 sink ESMTP\r\n";
  auto sent = co_await asio::async_write(s, asio::buffer(banner), as_tuple_awaitable);
  if (std::get<0>(sent)) co_return;
  co_await converse(s, s, false);
}

awaitable<void> listen(tcp::acceptor& a) {
  for (;;) {
    auto [ec, s] = co_await a.async_accept(as_tuple_awaitable);
    if (ec) co_return;
    asio::co_spawn(a.get_executor(), serve(std::move(s)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"SMTP sink for benchmarks"};
  std::uint16_t port = 0;
  app.add_option("--port", port, "port on 127.0.0.1 (0: any; printed)");
  app.add_option("--expect", expect, "exit after this many messages")->required();
  std::string cert, key;
  app.add_option("--tls-cert", cert, "certificate (PEM): offer STARTTLS");
  app.add_option("--tls-key", key, "its private key (PEM)");
  CLI11_PARSE(app, argc, argv);
  ssl::context ctx(ssl::context::tls_server);
  if (!cert.empty()) {
    ctx.use_certificate_chain_file(cert);
    ctx.use_private_key_file(key, ssl::context::pem);
    tls = &ctx;
  }
  asio::io_context io{1};
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::printf("port %u\n", a.local_endpoint().port());
  std::fflush(stdout);
  asio::co_spawn(io, listen(a), asio::detached);
  io.run();
}
