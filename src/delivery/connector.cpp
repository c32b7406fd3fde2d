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
  net::client_tls_options checked;
  checked.check_only = true;
  checked.dane = true;
  checked_tls_ = net::make_client_context(checked);
}

net::awaitable<connection> connector::open(const next_hop& hop, const resolution& where, const tls_plan& plan) {
  std::string why, tls_status;
  const host_tls opportunistic;
  for (std::size_t i = 0; i < where.hosts.size(); ++i) {
    const auto& host = where.hosts[i];
    const auto& want = i < plan.hosts.size() ? plan.hosts[i] : opportunistic;
    if (!why.empty()) why += "; ";
    if (!want.skip.empty()) {
      why += host.name + ": " + want.skip;
      tls_status = "4.7.5";
      continue;
    }
    auto a = co_await open_host(hop, host, want, plan.policy);
    if (a.client) co_return connection{std::move(a.client), {}, std::move(a.tls)};
    if (a.stop) co_return connection{nullptr, std::move(*a.stop), {}};
    why += host.name + ": " + a.problem;
    if (!a.tls_status.empty()) tls_status = a.tls_status;
  }
  if (where.hosts.empty() || !tls_status.empty())
    co_return connection{nullptr, tls_policy_failed(std::move(why), tls_status.empty() ? "4.7.5" : tls_status), {}};
  co_return connection{nullptr, no_host_answered(std::move(why)), {}};
}

net::awaitable<connector::host_attempt> connector::open_host(const next_hop& hop, const mx_host& host,
                                                             const host_tls& want, const std::string& policy) {
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
  a.tls.policy = policy;
  a.problem = co_await greet(*c);
  if (a.problem.empty()) a.problem = co_await secure(*c, hop, want, a);
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

// STARTTLS as the plan wants it (when offered, or required), the check the
// plan asks for, then EHLO again. A required TLS that is missing or does not
// verify ends the host here, before any envelope is sent.
net::awaitable<std::string> connector::secure(smtp_client& c, const next_hop& hop, const host_tls& want,
                                              host_attempt& a) {
  using need = host_tls::need;
  const bool required = want.level == need::encrypt || want.level == need::verify;
  if (!c.stream().tls_active()) {
    if (want.level == need::none) co_return std::string{};
    if (!c.capabilities().starttls) {
      if (!required) co_return std::string{};  // plaintext, as opportunistic TLS allows
      a.tls_status = "4.7.4";
      co_return "STARTTLS not offered, and the " + a.tls.policy + " policy requires TLS";
    }
    const bool verify = hop.smarthost() && smarthost_tls_;
    const bool check = !verify && !want.check.empty();
    auto& ctx = verify ? *smarthost_tls_ : check ? *checked_tls_ : *opportunistic_tls_;
    const net::peer_check* against = check ? &want.check : nullptr;
    auto r = co_await c.starttls(ctx, c.remote_name(), verify, nullptr, against);
    // Offered and failed: no fallback to plaintext on this host.
    if (!r.ok()) {
      if (required) a.tls_status = "4.7.5";
      co_return "STARTTLS " + r.summary();
    }
    a.tls.verified = verify || (check && net::peer_verified(c.stream().ssl_handle(), want.dane));
    if (want.level == need::verify && !a.tls.verified && !want.report_only) {
      a.tls_status = "4.7.5";
      co_return "certificate not verified (" + a.tls.policy + "): " +
                net::verify_problem(c.stream().ssl_handle(), want.dane);
    }
    auto hello = co_await c.hello(s_.hostname);
    if (!hello.ok()) co_return "EHLO after STARTTLS " + hello.summary();
  } else {
    a.tls.verified = hop.smarthost();  // implicit TLS is only the smarthost's, verified
  }
  const auto info = net::describe(c.stream().ssl_handle());
  a.tls.version = info.version;
  a.tls.cipher = info.cipher;
  co_return std::string{};
}

net::awaitable<std::optional<outcome>> connector::authenticate(smtp_client& c, const std::string& host) {
  if (!c.stream().tls_active()) co_return smarthost_without_tls(host);
  auto r = co_await c.auth(s_.smarthost->username, s_.smarthost->password);
  if (!r.ok()) co_return smarthost_refused_auth(host, r);
  co_return std::nullopt;
}

}  // namespace smtpsd::delivery
