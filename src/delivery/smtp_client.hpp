#pragma once
// An SMTP client connection over net::stream: replies read through the
// bounded smtp::reply_parser, every step under a deadline. A network failure
// or a reply that cannot be parsed comes back as a synthetic 4xx reply with
// `io_error` set, so callers handle one kind of value. Used by delivery and by
// the `probe` and `send` commands.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/ip.hpp"
#include "net/stream.hpp"
#include "smtp/client.hpp"
#include "smtp/line_buffer.hpp"
#include "smtp/reply_parser.hpp"

namespace smtpsd::delivery {

struct response {
  smtp::reply reply;
  bool io_error = false;  // nothing usable came back; the connection is dead
  bool ok() const { return !io_error && reply.positive(); }
  std::string summary() const { return reply.summary(); }
};

struct timeouts {
  net::duration connect = std::chrono::seconds(30);
  net::duration command = std::chrono::seconds(300);
  net::duration data = std::chrono::seconds(600);
};

class smtp_client {
 public:
  // Connects to the first endpoint that answers; nullptr and the reason otherwise.
  static net::awaitable<std::pair<std::unique_ptr<smtp_client>, std::string>> connect(
      const std::vector<net::tcp::endpoint>& endpoints, net::duration timeout, const std::string& remote_name);

  // Resolves HOST (c-ares; /etc/hosts first; an IP as it is) and connects.
  static net::awaitable<std::pair<std::unique_ptr<smtp_client>, std::string>> dial(const base::host_port& where,
                                                                                   net::duration timeout);

  smtp_client(net::tcp::socket s, std::string remote_name, timeouts t);

  net::awaitable<response> read_reply(net::duration timeout);
  net::awaitable<response> read_reply() { return read_reply(timeouts_.command); }
  // Writes one command line (CRLF added) and reads its reply.
  net::awaitable<response> command(std::string_view line);
  // Writes without reading (pipelined commands, data).
  net::awaitable<bool> send(std::string_view bytes, net::duration timeout);
  net::awaitable<bool> send(std::string_view bytes) { return send(bytes, timeouts_.command); }

  // EHLO, falling back to HELO when EHLO is refused; sets capabilities().
  net::awaitable<response> hello(const std::string& name);
  // TLS on the connection as it is (implicit TLS) or after STARTTLS.
  // `check`: what net::stream::connect_tls checks besides verify_name.
  net::awaitable<std::string> handshake(net::ssl::context& ctx, const std::string& sni, bool verify_name,
                                        SSL_SESSION* resume = nullptr, const net::peer_check* check = nullptr);
  net::awaitable<response> starttls(net::ssl::context& ctx, const std::string& sni, bool verify_name,
                                    SSL_SESSION* resume = nullptr, const net::peer_check* check = nullptr);
  // STARTTLS with `extra` sent in the same packet (the CVE-2011-0411 probe);
  // the reply is STARTTLS's.
  net::awaitable<response> starttls_with(std::string_view extra, net::ssl::context& ctx, const std::string& sni,
                                         bool verify_name);
  // AUTH PLAIN when offered, else LOGIN.
  net::awaitable<response> auth(const std::string& user, const std::string& password);
  net::awaitable<void> quit();

  const smtp::capabilities& capabilities() const { return caps_; }
  const std::string& remote_name() const { return remote_name_; }
  net::stream& stream() { return stream_; }
  const timeouts& limits() const { return timeouts_; }
  void set_timeouts(const timeouts& t) { timeouts_ = t; }
  bool broken() const { return broken_; }
  // What the connector's TLS plan made of this connection, for the events.
  struct tls_note {
    std::string policy;
    bool verified = false;
  } tls_checked;
  // Called with each line sent and received (probe/send -v); AUTH lines are redacted by the caller.
  std::function<void(char dir, std::string_view line)> trace;

 private:
  response failed(std::string why);

  net::stream stream_;
  std::string remote_name_;
  timeouts timeouts_;
  smtp::line_buffer in_;
  smtp::reply_parser parser_;
  smtp::capabilities caps_;
  bool broken_ = false;
};

}  // namespace smtpsd::delivery
