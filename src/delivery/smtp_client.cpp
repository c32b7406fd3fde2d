#include "delivery/smtp_client.hpp"

#include "base/base64.hpp"
#include "delivery/resolver.hpp"
#include "net/coro.hpp"
#include "net/tls.hpp"

namespace smtpsd::delivery {

net::awaitable<std::pair<std::unique_ptr<smtp_client>, std::string>> smtp_client::connect(
    const std::vector<net::tcp::endpoint>& endpoints, net::duration timeout, const std::string& remote_name) {
  auto ex = co_await net::asio::this_coro::executor;
  std::string why;
  for (const auto& ep : endpoints) {
    net::tcp::socket sock(ex);
    net::asio::steady_timer timer(ex, timeout);
    bool timed_out = false;
    timer.async_wait([&](const net::error_code& ec) {
      if (!ec) {
        timed_out = true;
        net::error_code ignored;
        sock.cancel(ignored);
        sock.close(ignored);
      }
    });
    const auto ec = co_await net::connect(sock, ep);
    timer.cancel();
    if (!ec && !timed_out) {
      net::error_code ignored;
      sock.set_option(net::tcp::no_delay(true), ignored);
      co_return std::pair{std::make_unique<smtp_client>(std::move(sock), remote_name, timeouts{}), std::string{}};
    }
    if (!why.empty()) why += "; ";
    why += ep.address().to_string() + ":" + std::to_string(ep.port()) + ": " +
           (timed_out ? std::string("connection timed out") : ec.message());
  }
  co_return std::pair{std::unique_ptr<smtp_client>{}, why.empty() ? std::string("no address to connect to") : why};
}

net::awaitable<std::pair<std::unique_ptr<smtp_client>, std::string>> smtp_client::dial(const base::host_port& where,
                                                                                      net::duration timeout) {
  resolver r({}, std::chrono::duration_cast<std::chrono::milliseconds>(timeout), 1);
  auto found = r.host(where.host, where.port);
  if (!found.ok()) co_return std::pair{std::unique_ptr<smtp_client>{}, "cannot resolve " + where.host + ": " + found.error};
  auto connected = co_await connect(found.hosts[0].addresses, timeout, where.host);
  if (!connected.first)
    co_return std::pair{std::unique_ptr<smtp_client>{}, "cannot connect to " + where.to_string() + ": " + connected.second};
  timeouts t;
  t.connect = t.command = t.data = timeout;
  connected.first->set_timeouts(t);
  co_return std::move(connected);
}

smtp_client::smtp_client(net::tcp::socket s, std::string remote_name, timeouts t)
    : stream_(std::move(s)), remote_name_(std::move(remote_name)), timeouts_(t) {}

response smtp_client::failed(std::string why) {
  broken_ = true;
  response r;
  r.io_error = true;
  r.reply = smtp::make_reply(421, "4.4.2", why);
  return r;
}

net::awaitable<response> smtp_client::read_reply(net::duration timeout) {
  if (broken_) co_return failed("connection already failed");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    smtp::reply r;
    switch (parser_.next(in_, r)) {
      case smtp::reply_parser::status::reply:
        if (trace)
          for (std::size_t i = 0; i < r.lines.size(); ++i)
            trace('<', std::to_string(r.code) + (i + 1 < r.lines.size() ? "-" : " ") +
                           (i == 0 && !r.enhanced.empty() ? r.enhanced + " " : "") + r.lines[i]);
        co_return response{std::move(r), false};
      case smtp::reply_parser::status::error:
        co_return failed("protocol error from " + remote_name_ + ": " + parser_.error());
      case smtp::reply_parser::status::need_more:
        break;
    }
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= net::duration::zero()) co_return failed("timed out waiting for " + remote_name_);
    auto* buf = in_.prepare(16384);
    auto got = co_await stream_.read_some(buf, 16384, left);
    if (got.ec) {
      in_.commit(0);
      if (got.ec == net::timeout_error()) co_return failed("timed out waiting for " + remote_name_);
      co_return failed("connection to " + remote_name_ + " lost: " + got.ec.message());
    }
    in_.commit(got.n);
  }
}

net::awaitable<bool> smtp_client::send(std::string_view bytes, net::duration timeout) {
  if (broken_) co_return false;
  auto ec = co_await stream_.write(bytes, timeout);
  if (ec) broken_ = true;
  co_return !ec;
}

net::awaitable<response> smtp_client::command(std::string_view line) {
  if (trace) trace('>', line);
  std::string wire(line);
  wire += "\r\n";
  if (!co_await send(wire)) co_return failed("connection to " + remote_name_ + " lost while sending");
  co_return co_await read_reply();
}

net::awaitable<response> smtp_client::hello(const std::string& name) {
  const std::string ehlo = "EHLO " + name;  // (named: GCC 12 mishandles temporaries in co_await)
  auto r = co_await command(ehlo);
  if (r.ok()) {
    caps_ = smtp::parse_ehlo(r.reply);
    co_return r;
  }
  if (r.io_error || r.reply.code == 421) co_return r;
  caps_ = {};
  const std::string helo = "HELO " + name;
  co_return co_await command(helo);
}

net::awaitable<std::string> smtp_client::handshake(net::ssl::context& ctx, const std::string& sni, bool verify_name,
                                                   SSL_SESSION* resume, const net::peer_check* check) {
  auto ec = co_await stream_.connect_tls(ctx, sni, verify_name, timeouts_.command, resume, check);
  if (!ec) co_return std::string{};
  broken_ = true;
  std::string why = ec == net::timeout_error() ? "TLS handshake timed out" : "TLS handshake failed: " + ec.message();
  if (auto* ssl = stream_.ssl_handle()) {
    const long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) why += std::string(" (certificate: ") + X509_verify_cert_error_string(v) + ")";
  }
  co_return why;
}

net::awaitable<response> smtp_client::starttls(net::ssl::context& ctx, const std::string& sni, bool verify_name,
                                               SSL_SESSION* resume, const net::peer_check* check) {
  auto r = co_await command("STARTTLS");
  if (!r.ok()) co_return r;
  in_.clear();  // nothing the server sent before the handshake counts
  auto why = co_await handshake(ctx, sni, verify_name, resume, check);
  if (!why.empty()) co_return failed(why + " with " + remote_name_);
  co_return r;
}

net::awaitable<response> smtp_client::starttls_with(std::string_view extra, net::ssl::context& ctx,
                                                    const std::string& sni, bool verify_name) {
  std::string wire = "STARTTLS\r\n";
  wire += extra;
  if (trace) trace('>', "STARTTLS + pipelined plaintext");
  if (!co_await send(wire)) co_return failed("connection lost while sending");
  auto r = co_await read_reply();
  if (!r.ok()) co_return r;
  in_.clear();
  auto why = co_await handshake(ctx, sni, verify_name);
  if (!why.empty()) co_return failed(why + " with " + remote_name_);
  co_return r;
}

net::awaitable<response> smtp_client::auth(const std::string& user, const std::string& password) {
  auto quiet = std::move(trace);  // never show the AUTH payload
  if (quiet) quiet('>', "AUTH … (redacted)");
  response r;
  if (caps_.has_auth("PLAIN") || !caps_.has_auth("LOGIN")) {
    std::string token;
    token.push_back('\0');
    token += user;
    token.push_back('\0');
    token += password;
    const std::string line = "AUTH PLAIN " + base::base64_encode(token);
    r = co_await command(line);
  } else {
    r = co_await command("AUTH LOGIN");
    const std::string u = base::base64_encode(user), p = base::base64_encode(password);
    if (r.reply.code == 334) r = co_await command(u);
    if (r.reply.code == 334) r = co_await command(p);
  }
  trace = std::move(quiet);
  if (trace) trace('<', r.summary());
  co_return r;
}

net::awaitable<void> smtp_client::quit() {
  // Every co_await result is named: GCC 12 mishandles discarded non-trivial
  // results and default arguments of coroutines inside co_await.
  if (!broken_) {
    if (trace) trace('>', "QUIT");
    const net::duration wait = std::chrono::seconds(5);
    const bool sent = co_await send("QUIT\r\n", wait);
    if (sent) {
      response bye = co_await read_reply(wait);
      (void)bye;
    }
  }
  const net::duration close_wait = std::chrono::seconds(2);
  co_await stream_.close(close_wait);
}

}  // namespace smtpsd::delivery
