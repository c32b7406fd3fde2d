// A fast webhook receiver for the events benchmark: answers every POST with
// 204 over keep-alive connections and exits once it has received --expect
// requests, printing one JSON line with the count and the rate it saw.
#include <CLI/CLI.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdio>
#include <optional>

#include "net/coro.hpp"
#include "net/listener.hpp"

using namespace smtpsd::net;
namespace http = boost::beast::http;

namespace {

long received = 0;
long expect = 0;
std::optional<std::chrono::steady_clock::time_point> first;
std::chrono::steady_clock::time_point last;

awaitable<void> serve(tcp::socket s, asio::io_context& io) {
  beast::tcp_stream stream(std::move(s));
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    auto read = co_await http::async_read(stream, buf, req, as_tuple_awaitable);
    if (std::get<0>(read)) co_return;
    if (!first) first = std::chrono::steady_clock::now();
    last = std::chrono::steady_clock::now();
    http::response<http::empty_body> res{http::status::no_content, 11};
    res.keep_alive(true);
    auto written = co_await http::async_write(stream, res, as_tuple_awaitable);
    if (std::get<0>(written)) co_return;
    if (++received == expect) io.stop();
  }
}

awaitable<void> accept_loop(tcp::acceptor& a, asio::io_context& io) {
  for (;;) {
    auto got = co_await accept(a);
    if (got.ec) co_return;
    spawn(io.get_executor(), serve(std::move(got.socket), io), "webhook sink connection");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"smtpsd-webhook-sink: answers webhook POSTs with 204"};
  app.add_option("--expect", expect, "exit after this many requests")->required();
  CLI11_PARSE(app, argc, argv);
  asio::io_context io(1);
  auto acceptor = bind_acceptor(io, "127.0.0.1", 0);
  std::printf("port %u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  spawn(io.get_executor(), accept_loop(acceptor, io), "webhook sink");
  io.run();
  const double secs = first ? std::chrono::duration<double>(last - *first).count() : 0;
  std::printf("{\"requests\":%ld,\"seconds\":%.3f,\"requests_per_second\":%.1f}\n", received, secs,
              secs > 0 ? static_cast<double>(received) / secs : 0.0);
  return 0;
}
