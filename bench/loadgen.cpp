// smtpsd-loadgen: N concurrent TLS clients submitting messages as fast as the
// server accepts them. Reports messages per second and latency (end of DATA
// to the 250) as one JSON line.
#include <CLI/CLI.hpp>

#include <boost/asio/connect.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "base/base64.hpp"
#include "net/stream.hpp"
#include "smtp/reply_parser.hpp"

using namespace smtpsd;
using namespace std::chrono_literals;

namespace {

struct options {
  std::string host = "127.0.0.1";
  int port = 465;
  std::string user, password;
  int clients = 64;
  int messages = 5000;
  int size = 4096;
  bool starttls = false;
  bool reconnect = false;
  int threads = 1;
  std::string from = "loadgen@example.com";
  std::string to = "sink@example.org";
};

struct shared_state {
  std::atomic<int> next{0};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
};

class client {
 public:
  client(net::tcp::socket s) : stream_(std::move(s)) {}
  net::awaitable<smtp::reply> reply() {
    for (;;) {
      smtp::reply r;
      switch (parser_.next(in_, r)) {
        case smtp::reply_parser::status::reply: co_return r;
        case smtp::reply_parser::status::error: throw std::runtime_error(parser_.error());
        case smtp::reply_parser::status::need_more: break;
      }
      char* p = in_.prepare(16384);
      auto [ec, n] = co_await stream_.read_some(p, 16384, 60s);
      in_.commit(ec ? 0 : n);
      if (ec) throw std::runtime_error("read: " + ec.message());
    }
  }
  net::awaitable<void> send(std::string_view s) {
    if (auto ec = co_await stream_.write(s, 60s)) throw std::runtime_error("write: " + ec.message());
  }
  net::awaitable<smtp::reply> cmd(std::string_view s) {
    co_await send(s);
    co_return co_await reply();
  }
  net::stream& stream() { return stream_; }

 private:
  net::stream stream_;
  smtp::line_buffer in_;
  smtp::reply_parser parser_;
};

std::string make_body(int size) {
  std::string b = "From: loadgen@example.com\r\nTo: sink@example.org\r\nSubject: load\r\n\r\n";
  while (static_cast<int>(b.size()) < size) b += std::string(76, 'x') + "\r\n";
  return b + ".\r\n";
}

net::awaitable<void> run_client(const options& o, shared_state& st, net::ssl::context& tls, const std::string& body) {
  auto ex = co_await net::asio::this_coro::executor;
  bool more = true;
  while (more) {
    try {
      net::tcp::socket sock(ex);
      co_await sock.async_connect({net::asio::ip::make_address(o.host), static_cast<unsigned short>(o.port)},
                                  net::use_awaitable);
      client c(std::move(sock));
      if (!o.starttls) {
        if (auto ec = co_await c.stream().connect_tls(tls, "localhost", false, 30s)) throw std::runtime_error(ec.message());
      }
      co_await c.reply();
      co_await c.cmd("EHLO loadgen\r\n");
      if (o.starttls) {
        co_await c.cmd("STARTTLS\r\n");
        if (auto ec = co_await c.stream().connect_tls(tls, "localhost", false, 30s)) throw std::runtime_error(ec.message());
        co_await c.cmd("EHLO loadgen\r\n");
      }
      auto token = base::base64_encode(std::string(1, '\0') + o.user + std::string(1, '\0') + o.password);
      auto a = co_await c.cmd("AUTH PLAIN " + token + "\r\n");
      if (a.code != 235) throw std::runtime_error("auth: " + a.summary());
      for (;;) {
        if (st.next.fetch_add(1) >= o.messages) {
          more = false;
          break;
        }
        co_await c.send(fmt::format("MAIL FROM:<{}>\r\nRCPT TO:<{}>\r\nDATA\r\n", o.from, o.to));
        auto m = co_await c.reply();
        auto r = co_await c.reply();
        auto d = co_await c.reply();
        if (m.code != 250 || r.code != 250 || d.code != 354) {
          st.failed++;
          co_await c.cmd("RSET\r\n");
          continue;
        }
        auto t0 = std::chrono::steady_clock::now();
        auto done = co_await c.cmd(body);
        auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (done.code == 250) {
          st.ok++;
          std::lock_guard l(st.mu);
          st.latencies_ms.push_back(ms);
        } else {
          st.failed++;
        }
        if (o.reconnect) break;
      }
      co_await c.send("QUIT\r\n");
      c.stream().close_now();
    } catch (const std::exception& e) {
      st.failed++;
      std::cerr << "client error: " << e.what() << "\n";
      if (st.next.load() >= o.messages) more = false;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"smtpsd-loadgen: concurrent SMTP submission load"};
  std::string server = "127.0.0.1:465";
  app.add_option("--server", server, "host:port");
  app.add_option("--username", o.user)->required();
  app.add_option("--password", o.password)->required();
  app.add_option("--clients", o.clients, "concurrent connections");
  app.add_option("--messages", o.messages, "messages in total");
  app.add_option("--size", o.size, "message size in octets");
  app.add_option("--threads", o.threads, "client I/O threads");
  app.add_flag("--starttls", o.starttls, "use STARTTLS instead of implicit TLS");
  app.add_flag("--reconnect", o.reconnect, "a new connection (and AUTH) for every message");
  CLI11_PARSE(app, argc, argv);
  auto colon = server.rfind(':');
  o.host = server.substr(0, colon);
  o.port = std::stoi(server.substr(colon + 1));

  net::client_tls_options topts;
  topts.verify = false;
  auto tls = net::make_client_context(topts);
  const auto body = make_body(o.size);
  shared_state st;
  net::asio::io_context io;
  for (int i = 0; i < o.clients; ++i) net::asio::co_spawn(io, run_client(o, st, *tls, body), net::asio::detached);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 1; i < o.threads; ++i) threads.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto& l = st.latencies_ms;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) { return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<std::size_t>(p * l.size()))]; };
  std::cout << fmt::format(
      R"({{"messages_ok":{},"failed":{},"seconds":{:.3f},"messages_per_second":{:.1f},"latency_ms":{{"p50":{:.2f},"p90":{:.2f},"p99":{:.2f},"max":{:.2f}}},"clients":{},"size":{},"reconnect":{}}})",
      st.ok.load(), st.failed.load(), secs, st.ok.load() / secs, pct(0.5), pct(0.9), pct(0.99), l.empty() ? 0.0 : l.back(),
      o.clients, o.size, o.reconnect)
            << "\n";
  return st.failed.load() == 0 ? 0 : 1;
}
