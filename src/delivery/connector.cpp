#include "delivery/connector.hpp"

#include "net/tls.hpp"

namespace smtpsd::delivery {

connector::connector(connector_settings s) : s_(std::move(s)) {
  net::client_tls_options opportunistic;
  opportunistic.verify = false;
  opportunistic_tls_ = net::make_client_context(opportunistic);
  if (s_.smarthost) {
    net::client_tls_options verified;
    verified.ca_file = s_.smarthost->ca_file;
    smarthost_tls_ = net::make_client_context(verified);
  }
}

net::awaitable<connection> connector::open(const next_hop& hop, const resolution& where) {
  std::string why;
  for (const auto& host : where.hosts) {
    auto a = co_await open_host(hop, host);
    if (a.client) co_return connection{std::move(a.client), {}};
    if (a.stop) co_return connection{nullptr, std::move(*a.stop)};
    if (!why.empty()) why += "; ";
    why += host.name + ": " + a.problem;
  }
  co_return connection{nullptr, no_host_answered(std::move(why))};
}

net::awaitable<connector::host_attempt> connector::open_host(const next_hop& hop, const mx_host& host) {
  host_attempt a;
  auto connected = co_await smtp_client::connect(host.addresses, s_.limits.connect, host.name);
  if (!connected.first) {
    a.problem = std::move(connected.second);
    co_return a;
  }
  auto c = std::move(connected.first);
  c->set_timeouts(s_.limits);
  if (hop.smarthost() && s_.smarthost && s_.smarthost->implicit_tls) {
    a.problem = co_await c->handshake(*smarthost_tls_, host.name, true);
    if (!a.problem.empty()) co_return a;
  }
  a.problem = co_await greet(*c);
  if (a.problem.empty()) a.problem = co_await secure(*c, hop);
  if (a.problem.empty() && hop.smarthost() && s_.smarthost && !s_.smarthost->username.empty())
    a.stop = co_await authenticate(*c, host.name);
  if (a.problem.empty() && !a.stop) {
    a.client = std::move(c);
    co_return a;
  }
  co_await c->quit();
  co_return a;
}

// The banner and EHLO (HELO when EHLO is refused).
net::awaitable<std::string> connector::greet(smtp_client& c) {
  auto banner = co_await c.read_reply();
  if (!banner.ok()) co_return "greeting " + banner.summary();
  auto hello = co_await c.hello(s_.hostname);
  if (!hello.ok()) co_return "EHLO " + hello.summary();
  co_return std::string{};
}

// STARTTLS when offered and TLS is not on yet, then EHLO again.
net::awaitable<std::string> connector::secure(smtp_client& c, const next_hop& hop) {
  if (c.stream().tls_active() || !c.capabilities().starttls) co_return std::string{};
  const bool verify = hop.smarthost() && smarthost_tls_;
  auto& ctx = verify ? *smarthost_tls_ : *opportunistic_tls_;
  auto r = co_await c.starttls(ctx, c.remote_name(), verify);
  // Offered and failed: no fallback to plaintext on this host.
  if (!r.ok()) co_return "STARTTLS " + r.summary();
  auto hello = co_await c.hello(s_.hostname);
  if (!hello.ok()) co_return "EHLO after STARTTLS " + hello.summary();
  co_return std::string{};
}

net::awaitable<std::optional<outcome>> connector::authenticate(smtp_client& c, const std::string& host) {
  if (!c.stream().tls_active()) co_return smarthost_without_tls(host);
  auto r = co_await c.auth(s_.smarthost->username, s_.smarthost->password);
  if (!r.ok()) co_return smarthost_refused_auth(host, r);
  co_return std::nullopt;
}

}  // namespace smtpsd::delivery
