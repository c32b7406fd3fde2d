#pragma once
// For tests only: an SMTP server in the test's own io_context (as chasquid's
// fakeserver_test.go), scripted per command, that records what it was sent.
// It speaks enough SMTP for the client side: banner, EHLO/HELO, STARTTLS,
// AUTH (any credentials), MAIL, RCPT, DATA with dot-unstuffing, BDAT, RSET,
// QUIT; any step can be answered with a chosen reply or end the connection.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net/coro.hpp"
#include "net/listener.hpp"
#include "net/stream.hpp"
#include "net/tls.hpp"
#include "smtp/line_buffer.hpp"

namespace smtpsd::delivery::fakes {

struct received {
  std::string from;
  std::vector<std::string> rcpts;
  std::string data;  // unstuffed, with the final CRLF
  bool tls = false;
};

struct fake_script {
  std::string banner = "220 fake.test ESMTP";
  std::vector<std::string> extensions = {"PIPELINING", "8BITMIME", "SIZE 10000000", "SMTPUTF8", "DSN"};
  // A reply for a step instead of the usual one. Steps: "BANNER", "EHLO",
  // "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT" (or "RCPT <address>" for one
  // recipient), "DATA", "." (the end of the data), "BDAT", "RSET".
  std::map<std::string, std::string> replies;
  // The connection is closed when this step arrives (instead of a reply).
  std::string drop_at;
  // STARTTLS is answered 220 and then, instead of a handshake, the
  // connection is closed.
  bool broken_tls = false;
  std::shared_ptr<net::server_tls> tls;  // offer STARTTLS with this certificate
};

class fake_smtp_server {
 public:
  fake_smtp_server(net::asio::io_context& io, fake_script s)
      : io_(io), acceptor_(net::bind_acceptor(io, "127.0.0.1", 0)), s_(std::move(s)) {
    net::spawn(io_.get_executor(), accept_loop(), "fake smtp server");
  }
  ~fake_smtp_server() { stop(); }
  void stop() {
    net::error_code ec;
    acceptor_.close(ec);
    for (auto* st : open_) st->close_now();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  fake_script& script() { return s_; }

  int connections = 0;     // accepted so far
  int concurrent = 0;      // open now
  int max_concurrent = 0;  // the most open at once
  std::vector<received> messages;
  std::vector<std::string> commands;  // every command line, in order, all connections

 private:
  struct conn {
    net::stream st;
    smtp::line_buffer in;
    received cur;
    bool tls = false;
  };

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto a = co_await net::accept(acceptor_);
      if (a.ec) co_return;
      net::spawn(io_.get_executor(), serve(std::move(a.socket)), "fake smtp session");
    }
  }

  std::string reply_for(const std::string& step, const std::string& usual) const {
    auto it = s_.replies.find(step);
    return it == s_.replies.end() ? usual : it->second;
  }

  net::awaitable<bool> say(conn& c, const std::string& text) {
    const std::string wire = text + "\r\n";
    const auto ec = co_await c.st.write(wire, std::chrono::seconds(10));
    co_return !ec;
  }

  // The next line; false when the client went away.
  net::awaitable<bool> read_line(conn& c, std::string& line) {
    for (;;) {
      auto r = c.in.next_line(100000);
      if (r.s == smtp::line_buffer::status::line) {
        line = std::string(r.line);
        co_return true;
      }
      if (r.s != smtp::line_buffer::status::need_more) co_return false;
      auto* p = c.in.prepare(65536);
      auto got = co_await c.st.read_some(p, 65536, std::chrono::seconds(10));
      c.in.commit(got.ec ? 0 : got.n);
      if (got.ec) co_return false;
    }
  }

  net::awaitable<bool> read_exact(conn& c, std::size_t n, std::string& out) {
    while (c.in.pending().size() < n) {
      auto* p = c.in.prepare(65536);
      auto got = co_await c.st.read_some(p, 65536, std::chrono::seconds(10));
      c.in.commit(got.ec ? 0 : got.n);
      if (got.ec) co_return false;
    }
    out.append(c.in.pending().substr(0, n));
    c.in.consume(n);
    co_return true;
  }

  net::awaitable<bool> read_data(conn& c) {
    for (;;) {
      std::string line;
      if (!co_await read_line(c, line)) co_return false;
      if (line == ".") co_return true;
      if (!line.empty() && line[0] == '.') line.erase(0, 1);
      c.cur.data += line + "\r\n";
    }
  }

  std::string ehlo_reply(const conn& c) const {
    auto ext = s_.extensions;
    if (s_.tls && !c.tls) ext.push_back("STARTTLS");
    if (c.tls) ext.push_back("AUTH PLAIN LOGIN");
    if (ext.empty()) return "250 fake.test";
    std::string r = "250-fake.test";
    for (std::size_t i = 0; i < ext.size(); ++i) r += std::string(i + 1 == ext.size() ? "\r\n250 " : "\r\n250-") + ext[i];
    return r;
  }

  static std::string verb_of(const std::string& line) {
    std::string verb = line.substr(0, line.find(' '));
    for (auto& ch : verb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return verb;
  }

  static std::string address_in(const std::string& line) {
    auto lt = line.find('<'), gt = line.find('>');
    return lt == std::string::npos || gt == std::string::npos ? std::string{} : line.substr(lt + 1, gt - lt - 1);
  }

  enum class then { go_on, close, tls, data, bdat };

  // The reply to a command and what follows it (no I/O).
  std::pair<std::string, then> answer(conn& c, const std::string& line) {
    const auto verb = verb_of(line);
    if (verb == s_.drop_at) return {"", then::close};
    if (verb == "EHLO") return {reply_for("EHLO", ehlo_reply(c)), then::go_on};
    if (verb == "HELO") return {reply_for("HELO", "250 fake.test"), then::go_on};
    if (verb == "QUIT") return {"221 2.0.0 bye", then::close};
    if (verb == "RSET") {
      c.cur = {};
      return {reply_for("RSET", "250 2.0.0 ok"), then::go_on};
    }
    if (verb == "AUTH") return {reply_for("AUTH", "235 2.7.0 ok"), then::go_on};
    if (verb == "STARTTLS") {
      auto r = reply_for("STARTTLS", "220 2.0.0 go ahead");
      return {r, r.starts_with("220") ? then::tls : then::go_on};
    }
    if (verb == "MAIL") {
      c.cur = {};
      c.cur.from = address_in(line);
      c.cur.tls = c.tls;
      return {reply_for("MAIL", "250 2.1.0 ok"), then::go_on};
    }
    if (verb == "RCPT") {
      const auto to = address_in(line);
      auto r = reply_for("RCPT " + to, reply_for("RCPT", "250 2.1.5 ok"));
      if (r.starts_with("2")) c.cur.rcpts.push_back(to);
      return {r, then::go_on};
    }
    if (verb == "DATA") {
      auto r = reply_for("DATA", c.cur.rcpts.empty() ? "554 5.5.1 no valid recipients" : "354 go ahead");
      return {r, r.starts_with("354") ? then::data : then::go_on};
    }
    if (verb == "BDAT") return {"", then::bdat};
    return {"502 5.5.1 unknown", then::go_on};
  }

  // The reply after the whole message: "" to drop the connection instead.
  std::string message_in(conn& c) {
    if (s_.drop_at == ".") return "";
    auto fin = reply_for(".", "250 2.0.0 queued");
    if (fin.starts_with("2")) messages.push_back(c.cur);
    return fin;
  }

  // One command; false ends the connection.
  net::awaitable<bool> command(conn& c, const std::string& line) {
    commands.push_back(line);
    auto [reply, next] = answer(c, line);
    if (next == then::bdat) co_return co_await bdat(c, line);
    if (!reply.empty()) {
      const bool sent = co_await say(c, reply);
      if (!sent) co_return false;
    }
    switch (next) {
      case then::go_on: co_return true;
      case then::close: co_return false;
      case then::tls: co_return co_await starttls(c);
      case then::data: co_return co_await data(c);
      case then::bdat: break;
    }
    co_return false;
  }

  net::awaitable<bool> starttls(conn& c) {
    if (s_.broken_tls || !s_.tls) co_return false;
    c.in.clear();
    const auto ec = co_await c.st.accept_tls(s_.tls->context(), std::chrono::seconds(10));
    c.tls = !ec;
    co_return !ec;
  }

  net::awaitable<bool> data(conn& c) {
    if (!co_await read_data(c)) co_return false;
    const auto fin = message_in(c);
    if (fin.empty()) co_return false;
    co_return co_await say(c, fin);
  }

  net::awaitable<bool> bdat(conn& c, const std::string& line) {
    const bool last = line.find("LAST") != std::string::npos;
    const auto n = std::stoul(line.substr(5));
    if (!co_await read_exact(c, n, c.cur.data)) co_return false;
    std::string reply = last ? message_in(c) : reply_for("BDAT", "250 2.0.0 chunk ok");
    if (reply.empty()) co_return false;
    co_return co_await say(c, reply);
  }

  net::awaitable<void> serve(net::tcp::socket s) {
    conn c{net::stream(std::move(s)), {}, {}, false};
    ++connections;
    max_concurrent = std::max(max_concurrent, ++concurrent);
    open_.push_back(&c.st);
    bool open = s_.drop_at != "BANNER";
    if (open) {
      const auto banner = reply_for("BANNER", s_.banner);
      open = co_await say(c, banner);
    }
    while (open) {
      std::string line;
      open = co_await read_line(c, line);
      if (open) open = co_await command(c, line);
    }
    std::erase(open_, &c.st);
    --concurrent;
    c.st.close_now();
  }

  net::asio::io_context& io_;
  net::tcp::acceptor acceptor_;
  fake_script s_;
  std::vector<net::stream*> open_;
};

}  // namespace smtpsd::delivery::fakes
