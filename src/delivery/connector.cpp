#include "delivery/connector.hpp"

#include "base/clock.hpp"
#include "base/metrics.hpp"
#include "base/time_format.hpp"
#include "net/tls.hpp"

namespace smtpsd::delivery {

namespace {
// smtpsd_tls_policy_sessions_total{policy="sts"|"tlsa", result="success"|"failure"}
base::counter& sessions_metric(const std::string& policy, bool success) {
  return base::metrics().get_counter("smtpsd_tls_policy_sessions_total",
                                     "TLS sessions judged by a recipient domain's MTA-STS (sts) or DANE (tlsa) policy",
                                     {{"policy", policy}, {"result", success ? "success" : "failure"}});
}

// RFC 8460 §4.3 result types for a certificate that did not verify.
std::string rpt_result_type(SSL* s, bool dane) {
  if (dane) return "validation-failure";
  switch (s ? SSL_get_verify_result(s) : X509_V_ERR_UNSPECIFIED) {
    case X509_V_ERR_HOSTNAME_MISMATCH: return "certificate-host-mismatch";
    case X509_V_ERR_CERT_HAS_EXPIRED: return "certificate-expired";
    default: return "certificate-not-trusted";
  }
}
}  // namespace

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
  for (const char* p : {"sts", "tlsa"})
    for (bool ok : {true, false}) sessions_metric(p, ok);  // every series from start-up
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
      count(plan, want, host.name, nullptr);
      continue;
    }
    auto a = co_await open_host(hop, host, want, plan.policy);
    count(plan, want, host.name, &a);
    if (a.client) co_return connection{std::move(a.client), {}};
    if (a.stop) co_return connection{nullptr, std::move(*a.stop)};
    why += host.name + ": " + a.problem;
    if (!a.tls_status.empty()) tls_status = a.tls_status;
  }
  if (where.hosts.empty() || !tls_status.empty())
    co_return connection{nullptr, tls_policy_failed(std::move(why), tls_status.empty() ? "4.7.5" : tls_status)};
  co_return connection{nullptr, no_host_answered(std::move(why))};
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
  net::error_code ignored;
  a.ip = c->stream().socket().remote_endpoint(ignored).address().to_string();
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
    c->tls_checked = {a.tls.policy, a.tls.verified};
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
      a.tls_failure = "starttls-not-supported";
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
      a.tls_failure = "validation-failure";
      co_return "STARTTLS " + r.summary();
    }
    a.tls.verified = verify || (check && net::peer_verified(c.stream().ssl_handle(), want.dane()));
    if (check && !a.tls.verified) a.tls_failure = rpt_result_type(c.stream().ssl_handle(), want.dane());
    if (want.level == need::verify && !a.tls.verified && !want.report_only) {
      a.tls_status = "4.7.5";
      co_return "certificate not verified (" + a.tls.policy + "): " +
                net::verify_problem(c.stream().ssl_handle(), want.dane());
    }
    auto hello = co_await c.hello(s_.hostname);
    if (!hello.ok()) co_return "EHLO after STARTTLS " + hello.summary();
  } else {
    a.tls.verified = hop.smarthost();  // implicit TLS is only the smarthost's, verified
  }
  co_return std::string{};
}

void connector::count(const tls_plan& plan, const host_tls& want, const std::string& host, const host_attempt* a) {
  const bool judged = want.level == host_tls::need::encrypt || want.level == host_tls::need::verify ||
                      want.report_only || !want.skip_type.empty();
  if (!s_.reports || plan.report.type.empty() || !judged) return;
  const auto now = base::unix_seconds(base::real_clock().now());
  if (!a) {
    if (!want.skip_type.empty()) {
      s_.reports->failure(plan.report, {want.skip_type, host, ""}, now);
      sessions_metric(plan.report.type, false).inc();
    }
    return;
  }
  if (!a->tls_failure.empty()) {
    s_.reports->failure(plan.report, {a->tls_failure, host, a->ip}, now);
    sessions_metric(plan.report.type, false).inc();
  } else if (a->client) {
    s_.reports->success(plan.report, now);
    sessions_metric(plan.report.type, true).inc();
  }
  // Otherwise the host never got as far as TLS (refused, silent): not a TLS session.
}

net::awaitable<std::optional<outcome>> connector::authenticate(smtp_client& c, const std::string& host) {
  if (!c.stream().tls_active()) co_return smarthost_without_tls(host);
  auto r = co_await c.auth(s_.smarthost->username, s_.smarthost->password);
  if (!r.ok()) co_return smarthost_refused_auth(host, r);
  co_return std::nullopt;
}

}  // namespace smtpsd::delivery
