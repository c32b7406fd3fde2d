#include "server/session.hpp"

#include <boost/asio/post.hpp>

#include <fmt/format.h>

#include "base/base64.hpp"
#include "server/log.hpp"
#include "server/metrics.hpp"
#include "base/random.hpp"
#include "base/strings.hpp"
#include "inbound/report.hpp"
#include "net/proxy_protocol.hpp"
#include "smtp/replies.hpp"

namespace smtpsd::server {

namespace {

constexpr std::size_t read_chunk = 16 * 1024;

std::string make_session_id() {
  static const auto prefix = static_cast<std::uint32_t>(base::real_random().next_u64());
  static std::atomic<std::uint64_t> counter{0};
  return fmt::format("{:08x}{:06x}", prefix, ++counter);
}

std::string client_address(const net::tcp::endpoint& e) {
  auto a = e.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return net::asio::ip::make_address_v4(net::asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

smtp::server_settings fsm_settings(const session_settings& s) {
  smtp::server_settings f;
  f.hostname = s.hostname;
  const bool inbound = s.listener.mode == config::listener_mode::inbound;
  f.starttls_offered = s.listener.mode == config::listener_mode::starttls || inbound;
  f.tls_active = s.listener.mode == config::listener_mode::implicit_tls;
  f.inbound = inbound;
  f.max_message_bytes = s.limit.max_message_bytes;
  f.max_recipients = s.limit.max_recipients;
  f.max_errors = s.limit.max_errors;
  return f;
}

}  // namespace

session::session(net::tcp::socket s, std::shared_ptr<net::server_tls> tls, std::shared_ptr<const session_settings> settings,
                 services svc)
    : id_(make_session_id()),
      stream_(std::move(s)),
      tls_(std::move(tls)),
      settings_(std::move(settings)),
      svc_(svc),
      fsm_(fsm_settings(*settings_)),
      client_ip_(client_address(stream_.remote())) {}

session::~session() {
  if (counted_) svc_.connections->release(client_ip_);
}

void session::request_stop() {
  stop_requested_ = true;
  if (waiting_for_command_) stream_.cancel();
}

session::refused session::whole_envelope() const {
  refused what{fsm_.transaction().from.str(), {}};
  for (auto& rc : fsm_.transaction().rcpts) what.recipients.push_back(rc.box.str());
  return what;
}

// Logged and counted once; a refused sender, recipient or message of a
// logged-in account is also a "reject" event. Refused connections and
// logins are only logged.
void session::refuse(const policy::rejection& r, const std::optional<refused>& what) {
  rejected_metric(r.rule).inc();
  log()->info("session={} rejected rule={} {} reply=\"{}\"", id_, r.rule, r.detail, r.reply.summary());
  if (!svc_.events || !account_ || !what) return;
  events::event e;
  e.id = events::make_event_id(base::real_clock().now(), base::real_random());
  e.type = "reject";
  e.time = base::real_clock().now();
  e.account = account_->name;
  e.from = what->from;
  e.recipients = what->recipients;
  e.smtp_response = r.reply.summary();
  e.reason = r.rule;
  e.configuration_set = account_->configuration_set;
  e.mail.client_ip = client_ip_;
  e.mail.submitted = e.time;
  e.mail.destination = e.recipients;
  svc_.events->emit(std::move(e));
}

void session::log_limit_hit() {
  auto hit = fsm_.take_limit_hit();
  if (!hit) return;
  refused what{hit->address, {}};
  if (hit->rule != "size") what = refused{fsm_.transaction().from.str(), {hit->address}};  // a recipient too many
  refuse({hit->r, hit->rule, fmt::format("value={} limit={}", hit->value, hit->limit)}, what);
}

net::awaitable<void> session::run() {
  started_ = std::chrono::steady_clock::now();
  try {
    if (co_await admit()) co_await serve();
  } catch (const std::exception& e) {
    log()->error("session={} ended by an unexpected error: {}", id_, e.what());
  }
  message_.reset();  // aborts an unfinished message
  drop_transaction();
  co_await stream_.close();
  log()->info("session={} disconnect after {:.3f}s", id_,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
}

// Access lists, connection caps and the AUTH throttle. A refused client on an
// implicit-TLS listener costs no TLS work when the lists refuse it.
net::awaitable<bool> session::admit() {
  auto& refused = connections_refused_metric();
  const auto& l = settings_->listener;
  const bool implicit = l.mode == config::listener_mode::implicit_tls;
  if (l.proxy_protocol) {
    auto h = co_await net::read_proxy_header(stream_, std::chrono::seconds(10));
    if (!h) {
      log()->info("session={} from {}: no valid PROXY header; closing", id_, client_ip_);
      refused.inc();
      co_return false;
    }
    if (h->source) client_ip_ = h->source->to_string();
  }
  log()->info("session={} connect from {} listener={} mode={}", id_, client_ip_, l.name(), config::to_string(l.mode));
  auto ip = base::ip_address::parse(client_ip_);
  if (ip && !policy::access_allowed(l.allow, l.deny, *ip)) {
    refused.inc();
    refuse({smtp::replies::access_denied(), "access_denied", fmt::format("ip={} listener={}", client_ip_, l.name())});
    if (!implicit) {
      smtp::replies::access_denied().append_to(out_);
      co_await flush();
    }
    co_return false;
  }
  auto over = svc_.connections->admit(client_ip_);
  counted_ = !over;
  if (!over) {
    // Counted in Redis when several nodes run: a network call, so on the
    // worker pool (auth_throttle falls back to this node's count itself).
    auto check = [auth = svc_.auth, ip = client_ip_] { return auth->throttled(ip); };
    bool throttled = false;
    if (svc_.auth->throttle_is_shared())
      throttled = co_await svc_.pool->run(std::move(check));
    else
      throttled = check();
    if (throttled)
      over = policy::rejection{smtp::replies::auth_throttled(), "auth_throttled", fmt::format("ip={}", client_ip_)};
  }
  if (implicit) {
    const bool secured = co_await start_tls();
    if (!secured) co_return false;
  }
  if (over) {
    refused.inc();
    refuse(*over);
    over->reply.append_to(out_);
    co_await flush();
    co_return false;
  }
  co_return true;
}

net::awaitable<bool> session::flush() {
  if (out_.empty()) co_return true;
  auto ec = co_await stream_.write(out_, std::chrono::seconds(settings_->limit.command_timeout_s));
  out_.clear();
  co_return !ec;
}

net::awaitable<session::read_result> session::read_more(std::chrono::seconds timeout, bool command_phase) {
  if (command_phase && stop_requested_) co_return read_result::stopped;
  waiting_for_command_ = command_phase;
  std::optional<net::io_result> got;
  if (in_.empty()) {
    bool must_wait = false;  // a read found nothing: OpenSSL's pending bytes are a partial record
    for (;;) {
      // Idle: hold no buffer until the client sends something (OpenSSL frees
      // its record buffers too: SSL_MODE_RELEASE_BUFFERS).
      in_.release();
      out_.shrink_to_fit();
      net::error_code wait_ec;
      if (must_wait || !stream_.holds_input()) {  // the two halves: no wait_readable frame held while idle
        auto waited = co_await stream_.begin_wait_readable(timeout);
        wait_ec = stream_.end_wait(waited);
      }
      if (wait_ec) {
        waiting_for_command_ = false;
        if (wait_ec == net::timeout_error()) co_return read_result::timeout;
        if (stop_requested_ && wait_ec == net::asio::error::operation_aborted) co_return read_result::stopped;
        co_return read_result::closed;
      }
      if (!stream_.tls_active()) break;
      // A TLS wait can end on an edge whose bytes an earlier read took
      // (net/readable_wait.hpp): read without waiting, and when nothing is
      // there wait again, still holding no buffer.
      auto attempt = stream_.read_now(in_.prepare(read_chunk), read_chunk);
      if (!attempt.wait_for_input) {
        got = attempt.got;  // empty when OpenSSL must write first: read_some below waits for that
        break;
      }
      must_wait = true;
    }
  }
  if (!got) {
    char* p = in_.prepare(read_chunk);
    auto r = co_await stream_.read_some(p, read_chunk, timeout);
    got = r;
  }
  waiting_for_command_ = false;
  in_.commit(got->ec ? 0 : got->n);
  if (!got->ec) co_return read_result::ok;
  if (got->ec == net::timeout_error()) co_return read_result::timeout;
  if (stop_requested_ && got->ec == net::asio::error::operation_aborted) co_return read_result::stopped;
  co_return read_result::closed;
}

net::awaitable<bool> session::start_tls() {
  auto& failures = tls_failures_metric();
  const auto timeout = std::chrono::seconds(settings_->limit.command_timeout_s);
  // No TLS state (some 50 KiB) until the ClientHello arrives.
  auto ec = co_await stream_.wait_readable(timeout);
  if (!ec) ec = co_await stream_.accept_tls(tls_->context(), timeout);
  if (ec) {
    failures.inc();
    log()->info("session={} TLS handshake failed: {}", id_, ec.message());
    co_return false;
  }
  auto info = net::describe(stream_.ssl_handle());
  tls_version_ = info.version;
  tls_cipher_ = info.cipher;
  // The exporter value only binds on TLS 1.3 (RFC 9266); computed if a client picks -PLUS.
  fsm_.set_channel_binding({info.version == "TLSv1.3", [this] { return net::tls_exporter(stream_.ssl_handle()); }});
  log()->info("session={} TLS {} {}{}", id_, info.version, info.cipher, info.resumed ? " (resumed)" : "");
  co_return true;
}

net::awaitable<void> session::serve() {
  const auto command_timeout = std::chrono::seconds(settings_->limit.command_timeout_s);
  fsm_.greet(out_);
  if (!co_await flush()) co_return;
  for (;;) {
    auto r = in_.next_line(fsm_.line_limit());
    smtp::action a = smtp::action::read;
    switch (r.s) {
      case smtp::line_buffer::status::need_more: {
        if (!co_await flush()) co_return;
        auto rr = co_await read_more(command_timeout, true);
        if (rr == read_result::ok) continue;
        if (rr == read_result::timeout) {
          log()->info("session={} command timeout", id_);
          fsm_.abort(smtp::replies::timeout(settings_->hostname), out_);
        } else if (rr == read_result::stopped) {
          fsm_.abort(smtp::replies::service_closing(settings_->hostname), out_);
        }
        co_await flush();
        co_return;
      }
      case smtp::line_buffer::status::line:
        a = fsm_.on_line(r.line, out_);
        break;
      case smtp::line_buffer::status::too_long:
        a = fsm_.on_line_too_long(out_);
        break;
      case smtp::line_buffer::status::bare_lf:
        a = fsm_.on_bare_lf(out_);
        break;
    }
    log_limit_hit();
    a = co_await perform(a);
    end_transaction_if_over();
    if (a == smtp::action::close) {
      co_await flush();
      co_return;
    }
  }
}

// Recipients reserved for a transaction that ended without a queued message
// (RSET, a new EHLO, a refused message) go back to the account.
void session::end_transaction_if_over() {
  if (!fsm_.in_transaction()) drop_transaction();
}

// Gives back the recipients of an unfinished transaction, and tells the
// group committer its message is not coming.
void session::drop_transaction() {
  txn_.reset();
  announced_ = {};
}

net::awaitable<smtp::action> session::perform(smtp::action a) {
  for (;;) {
    switch (a) {
      case smtp::action::read:
      case smtp::action::close:
        co_return a;

      case smtp::action::start_tls:
        if (!co_await flush()) co_return smtp::action::close;
        in_.clear();  // pipelined plaintext is never executed inside TLS
        if (!co_await start_tls()) co_return smtp::action::close;
        fsm_.on_tls_started();
        a = smtp::action::read;
        break;

      case smtp::action::lookup_secrets:
        a = co_await lookup_secrets();
        break;

      case smtp::action::authenticate:
        a = co_await authenticate();
        break;

      case smtp::action::check_mail:
        a = co_await check_mail();
        break;

      case smtp::action::check_rcpt:
        a = co_await check_rcpt();
        break;

      case smtp::action::receive_data: {
        if (!co_await flush()) co_return smtp::action::close;
        auto r = co_await receive_data();
        if (!r) co_return smtp::action::close;
        a = fsm_.on_message_result(*r, out_);
        break;
      }

      case smtp::action::receive_bdat: {
        auto r = co_await receive_bdat();
        if (!r) co_return smtp::action::close;
        a = fsm_.bdat().last ? fsm_.on_message_result(*r, out_) : fsm_.on_bdat_chunk(out_);
        break;
      }

      case smtp::action::discard_bdat:
        if (!co_await discard(fsm_.bdat().size)) co_return smtp::action::close;
        a = smtp::action::read;
        break;
    }
  }
}

net::awaitable<smtp::action> session::lookup_secrets() {
  auto res = co_await svc_.pool->run(
      [this] { return svc_.auth->scram_secrets(fsm_.pending_credentials().username, client_ip_); });
  switch (res.k) {
    case policy::scram_lookup::kind::found:
      break;
    case policy::scram_lookup::kind::throttled: {
      auth_failures_metric().inc();
      refuse({smtp::replies::auth_throttled(), "auth_throttled", res.reason});
      co_return fsm_.on_auth_result({smtp::auth_outcome::kind::throttled, {}}, out_);
    }
    case policy::scram_lookup::kind::temporary:
      log()->warn("session={} auth unavailable: {}", id_, res.reason);
      co_return fsm_.on_auth_result({smtp::auth_outcome::kind::temporary, {}}, out_);
  }
  co_return fsm_.on_scram_secrets(res.secrets, base::base64_encode(base::random_bytes(18)), out_);
}

policy::auth_result session::verify_credentials() {
  const auto& c = fsm_.pending_credentials();
  policy::auth_result r;
  if (const auto& proof = fsm_.pending_proof())
    r = svc_.auth->confirm_scram(c.username, *proof, fsm_.proof_failure(), client_ip_);
  else
    r = svc_.auth->verify(c.username, c.password, client_ip_);
  // While on the pool: the account's profile too, so this session's first
  // MAIL and RCPTs are answered without a thread hop of their own.
  if (r.k == policy::auth_result::kind::success && svc_.policy) svc_.policy->prepare(r.account->name);
  return r;
}

session::sender_verdict session::check_sender(sender_verdict p) const {
  if (auto* prof = std::get_if<policy::sender_profile>(&p))
    if (auto rej = svc_.policy->check_mail(*prof, fsm_.pending_mail().from)) return *rej;
  return p;
}

net::awaitable<smtp::action> session::authenticate() {
  auto& auth_ok = auth_successes_metric();
  auto& auth_failed = auth_failures_metric();
  // A client that logs in again with what was just verified is answered
  // here; the first time, and after any change to the store, on the pool.
  std::optional<policy::auth_result> remembered;
  if (!fsm_.pending_proof()) {
    const auto& c = fsm_.pending_credentials();
    remembered = svc_.auth->verify_from_memory(c.username, c.password, client_ip_);
  }
  const bool from_memory = remembered.has_value();
  policy::auth_result res;
  if (from_memory)
    res = std::move(*remembered);
  else
    res = co_await svc_.pool->run([this] { return verify_credentials(); });
  smtp::auth_outcome o;
  const auto user = base::printable(fsm_.pending_credentials().username, 64);
  switch (res.k) {
    case policy::auth_result::kind::success:
      o.k = smtp::auth_outcome::kind::success;
      o.account = res.account->name;
      account_ = std::make_unique<const store::account>(std::move(*res.account));
      fsm_.set_max_message_bytes(account_->max_message_bytes.value_or(settings_->limit.max_message_bytes));
      auth_ok.inc();
      log()->info("session={} auth ok user={} account={}{}", id_, user, o.account, from_memory ? " remembered" : "");
      break;
    case policy::auth_result::kind::failure:
      o.k = smtp::auth_outcome::kind::failure;
      auth_failed.inc();
      log()->info("session={} auth failed user={} ip={} reason=\"{}\"", id_, user, client_ip_, res.reason);
      break;
    case policy::auth_result::kind::throttled:
      o.k = smtp::auth_outcome::kind::throttled;
      auth_failed.inc();
      refuse({smtp::replies::auth_throttled(), "auth_throttled", res.reason});
      break;
    case policy::auth_result::kind::temporary:
      o.k = smtp::auth_outcome::kind::temporary;
      log()->warn("session={} auth unavailable: {}", id_, res.reason);
      break;
  }
  co_return fsm_.on_auth_result(o, out_);
}

net::awaitable<smtp::action> session::check_mail() {
  if (inbound()) co_return fsm_.on_mail_verdict({}, out_);  // reports come from anyone, mostly from <>
  if (auto a = mail_from_memory()) co_return *a;
  // Else on the worker pool, which reads the store.
  auto r = co_await svc_.pool->run([this] { return check_sender(svc_.policy->profile(account_->name)); });
  co_return on_sender_verdict(std::move(r));
}

// From memory when the account's profile is fresh there: no thread hop.
std::optional<smtp::action> session::mail_from_memory() {
  auto cached = svc_.policy->cached_profile(account_->name);
  if (!cached) return std::nullopt;
  return on_sender_verdict(check_sender(std::move(*cached)));
}

smtp::action session::on_sender_verdict(sender_verdict r) {
  if (auto* rej = std::get_if<policy::rejection>(&r)) {
    refuse(*rej, refused{fsm_.pending_mail().from.str(), {}});
    return fsm_.on_mail_verdict({rej->reply, false}, out_);
  }
  if (svc_.events && !svc_.events->accepting()) {
    // The event log cannot take more (a full disk): no mail whose events would be lost.
    const policy::rejection full{smtp::replies::insufficient_storage(), "storage_full", "the event log cannot be written"};
    refuse(full, refused{fsm_.pending_mail().from.str(), {}});
    return fsm_.on_mail_verdict({full.reply, false}, out_);
  }
  txn_ = std::make_unique<policy::reservation>(*svc_.policy, std::move(std::get<policy::sender_profile>(r)));
  if (svc_.submit) announced_ = svc_.submit->announce();
  fsm_.set_max_message_bytes(txn_->profile().max_message_bytes);
  return fsm_.on_mail_verdict({}, out_);
}

net::awaitable<smtp::action> session::check_rcpt() {
  if (inbound()) {
    const auto& to = fsm_.pending_rcpt().to;
    if (base::iequals(to.domain, settings_->bounces.domain)) co_return fsm_.on_rcpt_verdict({}, out_);
    const policy::rejection relay{smtp::replies::relay_denied(settings_->bounces.domain), "relay",
                                  fmt::format("rcpt=<{}>", to.str())};
    refuse(relay);
    co_return fsm_.on_rcpt_verdict({relay.reply, false}, out_);
  }
  // From memory when it can answer (no thread hop); else on the worker pool.
  auto quick = svc_.policy->try_check_rcpt(txn_->profile(), fsm_.pending_rcpt().to);
  std::optional<policy::rejection> rej = std::move(quick.refused);
  if (!quick.known)
    rej = co_await svc_.pool->run([this] { return svc_.policy->check_rcpt(txn_->profile(), fsm_.pending_rcpt().to); });
  if (rej) {
    refuse(*rej, refused{fsm_.transaction().from.str(), {fsm_.pending_rcpt().to.str()}});
    co_return fsm_.on_rcpt_verdict({rej->reply, false}, out_);
  }
  txn_->add();
  co_return fsm_.on_rcpt_verdict({}, out_);
}

submission::session_facts session::facts() const {
  submission::session_facts f;
  f.session_id = id_;
  f.helo = fsm_.helo_name();
  f.client_ip = client_ip_;
  f.tls_version = tls_version_;
  f.tls_cipher = tls_cipher_;
  f.esmtp = fsm_.esmtp();
  if (account_) {
    f.account_id = account_->id;
    f.account = account_->name;
  }
  if (txn_) f.configuration_set = txn_->profile().account.configuration_set;
  return f;
}

std::unique_ptr<intake> session::start_message(smtp::data_reader::mode mode) {
  if (inbound()) {
    std::vector<std::string> rcpts;
    for (auto& r : fsm_.transaction().rcpts) rcpts.push_back(r.box.str());
    auto read = [fb = svc_.feedback, rcpts = std::move(rcpts), id = id_](std::string content) {
      if (!fb) return smtp::replies::temporary_failure();
      try {
        auto r = fb->process(rcpts, content);
        log()->info("session={} inbound report kind={} result={} queue_id={} account={} size={}", id,
                    inbound::to_string(r.kind), r.result, r.queue_id, r.account, content.size());
        return smtp::make_reply(250, "2.0.0", "Ok: report received");
      } catch (const std::exception& e) {
        log()->warn("session={} inbound report not recorded: {}", id, e.what());
        return smtp::replies::temporary_failure();
      }
    };
    return std::make_unique<intake>(mode, fsm_.max_message_bytes(), settings_->bounces.max_report_bytes, std::move(read));
  }
  auto* p = svc_.policy;
  auto check = [p, profile = txn_->profile()](const std::vector<message::header_field>& fields) {
    return p->check_headers(profile, fields);
  };
  return std::make_unique<intake>(mode, fsm_.max_message_bytes(), *svc_.submit, fsm_.transaction(), facts(),
                                  std::move(check), std::move(announced_));
}

net::awaitable<std::optional<smtp::reply>> session::receive_data() {
  const auto timeout = std::chrono::seconds(settings_->limit.data_timeout_s);
  message_ = start_message(smtp::data_reader::mode::dot_terminated);
  for (;;) {
    auto pending = in_.pending();
    if (!pending.empty()) {
      in_.consume(message_->feed(pending));
      if (message_->done()) break;
    }
    auto rr = co_await read_more(timeout, false);
    if (rr == read_result::ok) continue;
    message_.reset();
    if (rr == read_result::timeout) {
      log()->info("session={} data timeout", id_);
      fsm_.abort(smtp::replies::timeout(settings_->hostname), out_);
    } else {
      log()->info("session={} connection lost during DATA; nothing queued", id_);
    }
    co_return std::nullopt;
  }
  auto reply = co_await finish_message();
  co_return reply;
}

net::awaitable<std::optional<smtp::reply>> session::receive_bdat() {
  const auto timeout = std::chrono::seconds(settings_->limit.data_timeout_s);
  if (!message_) message_ = start_message(smtp::data_reader::mode::chunked);
  std::uint64_t left = fsm_.bdat().size;
  while (left > 0) {
    auto pending = in_.pending();
    if (pending.empty()) {
      auto rr = co_await read_more(timeout, false);
      if (rr == read_result::ok) continue;
      message_.reset();
      if (rr == read_result::timeout) fsm_.abort(smtp::replies::timeout(settings_->hostname), out_);
      co_return std::nullopt;
    }
    auto take = static_cast<std::size_t>(std::min<std::uint64_t>(left, pending.size()));
    message_->feed_chunk(pending.substr(0, take));
    in_.consume(take);
    left -= take;
  }
  if (!fsm_.bdat().last) co_return smtp::reply{};
  message_->end_chunks();
  auto reply = co_await finish_message();
  co_return reply;
}

net::awaitable<bool> session::discard(std::uint64_t n) {
  const auto timeout = std::chrono::seconds(settings_->limit.data_timeout_s);
  while (n > 0) {
    auto pending = in_.pending();
    if (pending.empty()) {
      if (co_await read_more(timeout, false) != read_result::ok) co_return false;
      continue;
    }
    auto take = static_cast<std::size_t>(std::min<std::uint64_t>(n, pending.size()));
    in_.consume(take);
    n -= take;
  }
  co_return true;
}

// The message's verdict: refused (and counted), or queued and its
// recipients counted against the account for good.
net::awaitable<smtp::reply> session::finish_message() {
  // The commit takes a while: the input block goes back to the thread's
  // spares meanwhile (unless the client already sent more), so that busy
  // sessions waiting for their commits do not empty the spares.
  in_.release();
  auto v = co_await message_->finish(*svc_.pool);
  message_.reset();
  if (v.refused) {
    refuse(*v.refused, whole_envelope());
    co_return v.refused->reply;
  }
  if (v.reply) co_return *v.reply;  // a report on the inbound listener
  if (v.duplicate) {
    duplicates_metric().inc();
    log()->info("session={} queue_id={} resubmitted {} account={}: answered with the first id, not queued again", id_,
                v.queue_id, v.summary, account_ ? account_->name : "");
    co_return smtp::replies::queued(v.queue_id);  // its recipients go back to the account with the transaction
  }
  txn_->commit();
  log()->info("session={} queue_id={} queued {} account={}", id_, v.queue_id, v.summary, account_ ? account_->name : "");
  co_return smtp::replies::queued(v.queue_id);
}

}  // namespace smtpsd::server
