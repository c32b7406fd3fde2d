#pragma once
// A TCP connection that may switch to TLS in place (STARTTLS) or start with
// it (implicit TLS). Every operation takes a deadline, enforced by a watchdog
// that cancels the operation without closing the socket, so a timed-out
// session can still send its 421. Failures come back as error codes.
//
// TLS is OpenSSL on the non-blocking socket itself (SSL_set_fd), driven by
// readiness waits: no second pair of 17 KiB record buffers and no BIO-pair
// copy of every octet as asio::ssl::stream has, and with
// SSL_MODE_RELEASE_BUFFERS an idle connection holds no record buffer at all.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/asio.hpp"
#include "net/readable_wait.hpp"
#include "net/tls.hpp"

namespace smtpsd::net {

using duration = std::chrono::steady_clock::duration;

// The error a deadline produces.
const error_code& timeout_error();

struct io_result {
  error_code ec;
  std::size_t n = 0;
};
struct exact_read {
  error_code ec;
  std::string data;  // what arrived, all of it unless ec
};

// What a TLS stream's socket BIO reads and writes through. input_may_remain:
// its last read filled the buffer it was given, so the socket may hold more
// (or no read has happened yet).
struct tls_socket_state {
  int fd = -1;
  bool input_may_remain = true;
};

class stream {
 public:
  explicit stream(tcp::socket s);
  stream(const stream&) = delete;
  ~stream();

  // Server side. ctx must outlive the stream (keep the server_tls alive).
  awaitable<error_code> accept_tls(ssl::context& ctx, duration timeout);
  // Client side: SNI and, when verify_name is set, host-name verification.
  // `resume`: a session from an earlier connection to try to resume.
  // `check`: a name or TLSA records to verify (needs a context made with
  // `dane` for the records); the handshake fails on a mismatch only when the
  // context enforces verification, else read peer_verified() after it.
  awaitable<error_code> connect_tls(ssl::context& ctx, const std::string& sni, bool verify_name, duration timeout,
                                    SSL_SESSION* resume = nullptr, const peer_check* check = nullptr);

  awaitable<io_result> read_some(char* buf, std::size_t n, duration timeout);
  // TLS only: one read without waiting. wait_for_input when nothing has
  // arrived (or only part of a record); got is empty too when OpenSSL must
  // write first (read_some waits for that).
  struct read_attempt {
    std::optional<io_result> got;
    bool wait_for_input = false;
  };
  read_attempt read_now(char* buf, std::size_t n);
  // Until the socket is readable, so an idle connection holds no read buffer
  // (and no TLS state before the ClientHello). Returns at once when OpenSSL
  // already holds received bytes.
  awaitable<error_code> wait_readable(duration timeout);
  // wait_readable in two halves, for a coroutine that would otherwise keep
  // wait_readable's frame under its own while idle (session::read_more):
  //   if (!s.holds_input()) { auto w = co_await s.begin_wait_readable(t); ec = s.end_wait(w); }
  // begin arms the deadline and returns Asio's wait itself (not a coroutine);
  // end_wait gives its error, timeout_error() when the deadline passed.
  bool holds_input() const;  // OpenSSL holds received bytes: nothing to wait for
  awaitable<std::tuple<error_code>> begin_wait_readable(duration timeout);
  error_code end_wait(const std::tuple<error_code>& waited);
  awaitable<error_code> write(std::string_view data, duration timeout);
  // Exactly n octets from the socket, before any TLS (the PROXY header).
  awaitable<exact_read> read_exactly(std::size_t n, duration timeout);
  // TLS close_notify (bounded), then TCP close.
  awaitable<void> close(duration timeout = std::chrono::seconds(2));
  void close_now();
  // Cancels the operation in progress (it completes with operation_aborted).
  void cancel();

  bool tls_active() const { return tls_ != nullptr; }
  SSL* ssl_handle() { return tls_.get(); }
  tcp::socket& socket() { return sock_; }
  tcp::endpoint remote() const { return remote_; }

 private:
  template <class Op>
  auto with_deadline(duration timeout, Op op) -> decltype(op());
  void arm(duration timeout);
  bool disarm();  // true when the deadline had passed
  void start_timer();

  enum class tls_op { handshake, read, write, shutdown };
  // One OpenSSL call: its result, or the readiness it waits for first.
  struct tls_step {
    io_result r;
    std::optional<tcp::socket::wait_type> want;
  };
  tls_step tls_try(tls_op op, const char* data, std::size_t n);  // data: written, or read into
  // The call repeated after each readiness wait it asks for; `want`: wait
  // for that first (tls_try asked for it already).
  awaitable<io_result> tls_io(tls_op op, const char* data, std::size_t n,
                              std::optional<tcp::socket::wait_type> want = std::nullopt);
  error_code start_tls(ssl::context& ctx);
  struct ssl_free {
    void operator()(SSL* s) const { SSL_free(s); }
  };

  // Asio's wait, or for input on a TLS socket whose last read left nothing
  // behind it, readable_wait.hpp's (no epoll_ctl). Not a coroutine.
  awaitable<std::tuple<error_code>> wait_for(tcp::socket::wait_type w);

  readable_socket sock_;
  asio::detail::reactor& reactor_;
  tls_socket_state bio_;
  // The deadline of the operation in progress. One timer per stream, set
  // lazily: an operation only records its deadline, and the timer is re-set
  // when it fires before that deadline or a nearer one comes; so an
  // operation that finishes in time costs no timer call at all (a session
  // makes about eight per message).
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_{};
  std::uint64_t generation_ = 0;  // the timer wait that counts
  bool armed_ = false;            // an operation is in progress
  bool timer_waiting_ = false;
  bool expired_ = false;
  std::shared_ptr<stream*> self_;  // the timer's handler holds it weakly: it may run after the stream is gone
  std::unique_ptr<SSL, ssl_free> tls_;
  tcp::endpoint remote_;
};

// Reads a PROXY v1 or v2 header, octet-exact so not one TLS byte is taken.
// nullopt when the peer sent something else or nothing in time.
struct proxy_header;
awaitable<std::optional<proxy_header>> read_proxy_header(stream& s, duration timeout);

}  // namespace smtpsd::net
