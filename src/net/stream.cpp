#include "net/stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "net/proxy_protocol.hpp"

namespace smtpsd::net {

const error_code& timeout_error() {
  static const error_code e = asio::error::timed_out;
  return e;
}

stream::stream(tcp::socket s)
    : sock_(std::move(s)),
      reactor_(asio::use_service<asio::detail::reactor>(asio::query(sock_.get_executor(), asio::execution::context))),
      timer_(sock_.get_executor()),
      self_(std::make_shared<stream*>(this)) {
  error_code ec;
  remote_ = sock_.remote_endpoint(ec);
  sock_.set_option(tcp::no_delay(true), ec);
}

stream::~stream() = default;

void stream::arm(duration timeout) {
  expired_ = false;
  armed_ = true;
  deadline_ = std::chrono::steady_clock::now() + timeout;
  if (!timer_waiting_ || deadline_ < timer_.expiry()) start_timer();
}

bool stream::disarm() {
  armed_ = false;
  return expired_;
}

void stream::start_timer() {
  timer_waiting_ = true;
  const auto gen = ++generation_;
  timer_.expires_at(deadline_);  // a wait still pending ends with operation_aborted
  timer_.async_wait([weak = std::weak_ptr<stream*>(self_), gen](const error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;  // cancelled (closed, or set again), or the stream is gone
    stream& s = **self;
    if (gen != s.generation_) return;  // fired, then set again before this ran
    s.timer_waiting_ = false;
    if (!s.armed_) return;  // nothing in progress: the next operation sets it again
    if (std::chrono::steady_clock::now() < s.deadline_) return s.start_timer();  // a later operation's deadline
    s.expired_ = true;
    error_code ignored;
    s.sock_.cancel(ignored);
  });
}

template <class Op>
auto stream::with_deadline(duration timeout, Op op) -> decltype(op()) {
  arm(timeout);
  auto result = co_await op();
  const bool expired = disarm();
  if (expired) std::get<0>(result) = timeout_error();
  co_return result;
}

namespace {

// What an OpenSSL call that failed comes to, in the terms asio::ssl used.
error_code tls_error(int code, int ret) {
  if (code == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  const unsigned long err = ERR_peek_last_error();
  if (code == SSL_ERROR_SYSCALL && err == 0) {
    if (ret == 0 || errno == 0) return ssl::error::stream_truncated;  // EOF without close_notify
    return error_code(errno, asio::error::get_system_category());
  }
  if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return ssl::error::stream_truncated;
  if (err != 0) return error_code(static_cast<int>(err), asio::error::get_ssl_category());
  return asio::error::fault;
}

// OpenSSL's own socket BIO writes with write(2), which raises SIGPIPE on a
// connection the peer has reset; this one sends with MSG_NOSIGNAL, as Asio
// does, and its reads note whether input may remain (stream::wait_for).
tls_socket_state& bio_state(BIO* b) { return *static_cast<tls_socket_state*>(BIO_get_data(b)); }

int bio_write(BIO* b, const char* data, std::size_t n, std::size_t* written) {
  BIO_clear_retry_flags(b);
  for (;;) {
    const ssize_t r = ::send(bio_state(b).fd, data, n, MSG_NOSIGNAL);
    if (r >= 0) {
      *written = static_cast<std::size_t>(r);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
    return 0;
  }
}

int bio_read(BIO* b, char* data, std::size_t n, std::size_t* got) {
  BIO_clear_retry_flags(b);
  auto& state = bio_state(b);
  for (;;) {
    const ssize_t r = ::recv(state.fd, data, n, 0);
    if (r > 0) {
      *got = static_cast<std::size_t>(r);
      state.input_may_remain = static_cast<std::size_t>(r) == n;
      return 1;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      state.input_may_remain = false;
      BIO_set_retry_read(b);
    }
    return 0;  // 0: the peer closed; else errno says why
  }
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* const m = [] {
    BIO_METHOD* method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "smtpsd socket");
    BIO_meth_set_write_ex(method, bio_write);
    BIO_meth_set_read_ex(method, bio_read);
    BIO_meth_set_ctrl(method, bio_ctrl);
    return method;
  }();
  return m;
}

}  // namespace

error_code stream::start_tls(ssl::context& ctx) {
  error_code ec;
  sock_.non_blocking(true, ec);
  if (ec) return ec;
  tls_.reset(SSL_new(ctx.native_handle()));
  BIO* bio = tls_ ? BIO_new(socket_bio_method()) : nullptr;
  if (!bio) {
    tls_.reset();
    return asio::error::no_memory;
  }
  bio_.fd = sock_.native_handle();
  bio_.input_may_remain = true;
  BIO_set_data(bio, &bio_);
  BIO_set_init(bio, 1);
  SSL_set_bio(tls_.get(), bio, bio);  // the SSL owns it
  return {};
}

stream::tls_step stream::tls_try(tls_op op, const char* data, std::size_t n) {
  SSL* s = tls_.get();
  // SSL_get_error reads the thread's error queue, which must hold nothing
  // from an earlier call; it is almost always empty already, and looking
  // costs less than clearing its sixteen slots.
  if (ERR_peek_error() != 0) ERR_clear_error();
  errno = 0;
  std::size_t done = 0;
  int r = 0;
  switch (op) {
    case tls_op::handshake: r = SSL_do_handshake(s); break;
    case tls_op::read: r = SSL_read_ex(s, const_cast<char*>(data), n, &done); break;  // read_some's buffer
    case tls_op::write: r = SSL_write_ex(s, data, n, &done); break;
    case tls_op::shutdown: r = SSL_shutdown(s) >= 0 ? 1 : -1; break;  // ours sent; theirs not awaited
  }
  if (r > 0) return tls_step{{{}, done}, std::nullopt};
  const int code = SSL_get_error(s, r);
  if (code == SSL_ERROR_WANT_READ) return tls_step{{}, tcp::socket::wait_read};
  if (code == SSL_ERROR_WANT_WRITE) return tls_step{{}, tcp::socket::wait_write};
  return tls_step{{tls_error(code, r), 0}, std::nullopt};
}

awaitable<io_result> stream::tls_io(tls_op op, const char* data, std::size_t n, std::optional<tcp::socket::wait_type> want) {
  for (;;) {
    if (!want) {
      auto step = tls_try(op, data, n);
      if (!step.want) co_return step.r;
      want = step.want;
    }
    auto waited = co_await wait_for(*want);
    if (std::get<0>(waited)) co_return io_result{std::get<0>(waited), 0};
    want.reset();
  }
}

awaitable<error_code> stream::accept_tls(ssl::context& ctx, duration timeout) {
  if (auto ec = start_tls(ctx)) co_return ec;
  SSL_set_accept_state(tls_.get());
  auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
    auto shake = co_await tls_io(tls_op::handshake, nullptr, 0);
    co_return std::tuple<error_code>{shake.ec};
  });
  co_return std::get<0>(r);
}

// RFC 7672: the TLSA records of the host, checked by OpenSSL's DANE code; a
// DANE-EE match ignores names and dates, a DANE-TA chain must carry one of
// the names (the MX host, or the next-hop domain).
static error_code add_dane(SSL* s, const peer_check& check) {
  const std::string& base = check.dane_names.empty() ? check.name : check.dane_names.front();
  if (SSL_dane_enable(s, base.c_str()) <= 0) return asio::error::invalid_argument;
  SSL_dane_set_flags(s, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  for (std::size_t i = 1; i < check.dane_names.size(); ++i) SSL_add1_host(s, check.dane_names[i].c_str());
  for (const auto& r : check.tlsa) {
    const auto* d = reinterpret_cast<const unsigned char*>(r.data.data());
    SSL_dane_tlsa_add(s, r.usage, r.selector, r.mtype, d, r.data.size());  // unusable ones are ignored
  }
  return {};
}

awaitable<error_code> stream::connect_tls(ssl::context& ctx, const std::string& sni, bool verify_name,
                                          duration timeout, SSL_SESSION* resume, const peer_check* check) {
  if (auto ec = start_tls(ctx)) co_return ec;
  SSL* s = tls_.get();
  SSL_set_connect_state(s);
  error_code not_ip;
  asio::ip::make_address(sni, not_ip);
  if (!sni.empty() && not_ip) SSL_set_tlsext_host_name(s, sni.c_str());  // SNI never carries an IP
  if (resume) SSL_set_session(s, resume);
  if (verify_name) {
    // Checked by OpenSSL with the chain: a name (wildcards as RFC 6125 says) or an IP address.
    auto* param = SSL_get0_param(s);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (not_ip) SSL_set1_host(s, sni.c_str());
    else X509_VERIFY_PARAM_set1_ip_asc(param, sni.c_str());
  }
  if (check && !check->tlsa.empty()) {
    if (auto ec = add_dane(s, *check)) co_return ec;
  } else if (check && !check->name.empty()) {
    X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(s), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(s, check->name.c_str());
  }
  auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
    auto shake = co_await tls_io(tls_op::handshake, nullptr, 0);
    co_return std::tuple<error_code>{shake.ec};
  });
  co_return std::get<0>(r);
}

// read_some, wait_readable and write run once or more per command, so they
// set the deadline themselves instead of through with_deadline: two
// coroutine frames fewer per call, and two fewer held by an idle session.
awaitable<io_result> stream::read_some(char* buf, std::size_t n, duration timeout) {
  arm(timeout);
  io_result out;
  if (tls_) {
    // Most calls find their record (or room to write) at once: no coroutine
    // frame for tls_io unless OpenSSL has to wait.
    auto step = tls_try(tls_op::read, buf, n);
    if (step.want) {
      out = co_await tls_io(tls_op::read, buf, n, step.want);
    } else {
      out = step.r;
    }
  } else {
    auto got = co_await sock_.async_read_some(asio::buffer(buf, n), as_tuple_awaitable);
    out = io_result{std::get<0>(got), std::get<1>(got)};
  }
  if (disarm()) out.ec = timeout_error();
  co_return out;
}

stream::read_attempt stream::read_now(char* buf, std::size_t n) {
  auto step = tls_try(tls_op::read, buf, n);
  if (!step.want) return {step.r, false};
  return {std::nullopt, *step.want == tcp::socket::wait_read};
}

bool stream::holds_input() const { return tls_ && SSL_has_pending(tls_.get()); }

awaitable<std::tuple<error_code>> stream::wait_for(tcp::socket::wait_type w) {
  if (w != tcp::socket::wait_read || !tls_ || bio_.input_may_remain) return sock_.async_wait(w, as_tuple_awaitable);
  return asio::async_initiate<decltype(as_tuple_awaitable), void(error_code)>(
      [this](auto handler) { start_readable_wait(reactor_, sock_, std::move(handler)); }, as_tuple_awaitable);
}

awaitable<std::tuple<error_code>> stream::begin_wait_readable(duration timeout) {
  arm(timeout);
  return wait_for(tcp::socket::wait_read);
}

error_code stream::end_wait(const std::tuple<error_code>& waited) {
  error_code ec = std::get<0>(waited);
  if (disarm()) ec = timeout_error();
  return ec;
}

awaitable<error_code> stream::wait_readable(duration timeout) {
  if (holds_input()) co_return error_code{};
  auto waited = co_await begin_wait_readable(timeout);
  co_return end_wait(waited);
}

awaitable<error_code> stream::write(std::string_view data, duration timeout) {
  if (data.empty()) co_return error_code{};
  arm(timeout);
  error_code ec;
  if (tls_) {
    const char* octets = data.data();
    const std::size_t count = data.size();
    auto step = tls_try(tls_op::write, octets, count);
    if (step.want) {
      auto sent = co_await tls_io(tls_op::write, octets, count, step.want);
      ec = sent.ec;
    } else {
      ec = step.r.ec;
    }
  } else {
    auto sent = co_await asio::async_write(sock_, asio::buffer(data), as_tuple_awaitable);
    ec = std::get<0>(sent);
  }
  if (disarm()) ec = timeout_error();
  co_return ec;
}

awaitable<exact_read> stream::read_exactly(std::size_t n, duration timeout) {
  exact_read out;
  out.data.assign(n, '\0');
  auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code, std::size_t>> {
    co_return co_await asio::async_read(sock_, asio::buffer(out.data), as_tuple_awaitable);
  });
  out.ec = std::get<0>(r);
  out.data.resize(std::get<1>(r));
  co_return out;
}

awaitable<std::optional<proxy_header>> read_proxy_header(stream& s, duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] { return std::max<duration>(deadline - std::chrono::steady_clock::now(), std::chrono::milliseconds(1)); };
  auto first = co_await s.read_exactly(8, left());
  if (first.ec) co_return std::nullopt;
  std::string head = std::move(first.data);
  if (head.rfind("PROXY ", 0) == 0) {
    while (head.size() < proxy_v1_max && head.substr(head.size() - 2) != "\r\n") {
      auto one = co_await s.read_exactly(1, left());
      if (one.ec) co_return std::nullopt;
      head += one.data;
    }
    co_return parse_proxy_v1(head);
  }
  if (head != proxy_v2_signature.substr(0, 8)) co_return std::nullopt;
  auto rest = co_await s.read_exactly(8, left());
  if (rest.ec) co_return std::nullopt;
  head += rest.data;
  auto total = proxy_v2_length(head);
  if (total == 0) co_return std::nullopt;
  auto body = co_await s.read_exactly(total - 16, left());
  if (body.ec) co_return std::nullopt;
  head += body.data;
  co_return parse_proxy_v2(head);
}

awaitable<void> stream::close(duration timeout) {
  if (tls_ && sock_.is_open()) {
    auto r = co_await with_deadline(timeout, [&]() -> awaitable<std::tuple<error_code>> {
      auto sent = co_await tls_io(tls_op::shutdown, nullptr, 0);
      co_return std::tuple<error_code>{sent.ec};
    });
    (void)r;  // a peer that does not take our close_notify changes nothing
  }
  close_now();
}

void stream::close_now() {
  error_code ec;
  timer_.cancel();
  timer_waiting_ = false;
  sock_.shutdown(tcp::socket::shutdown_both, ec);
  sock_.close(ec);
}

void stream::cancel() {
  error_code ec;
  sock_.cancel(ec);
}

}  // namespace smtpsd::net
