#include "delivery/smtp_deliverer.hpp"

#include "delivery/transaction.hpp"

#include "base/clock.hpp"
#include "base/log.hpp"
#include "base/time_format.hpp"

namespace smtpsd::delivery {

smtp_deliverer::smtp_deliverer(net::worker_pool& pool, smtp_settings s)
    : pool_(pool),
      router_(s.routes),
      resolver_(s.resolvers),
      reports_(s.tls_report_period, s.tls_report_state),
      connector_(connector_settings{s.hostname, s.limits, s.smarthost, &reports_}),
      policies_(pool, resolver_, s.tls),
      connections_(s.per_destination, s.idle) {}

net::awaitable<std::vector<outcome>> smtp_deliverer::deliver(const job& j) {
  const auto n = j.rcpts.size();
  auto held = co_await connections_.acquire(j.hop.key);
  if (!held) co_return std::vector<outcome>(n, not_attempted_stopping());

  // An idle connection first; if it turns out dead before any recipient was
  // accepted, a fresh one. Not for REQUIRETLS: an idle connection was
  // opened under a plan that may not have verified its host.
  const bool requiretls = j.mail.tls == base::tls_demand::required;
  if (auto idle = requiretls ? nullptr : connections_.take_idle(j.hop.key)) {
    auto r = co_await run_transaction(*idle, j);
    note_tls(*idle, r.outcomes);
    co_await finish(j.hop.key, std::move(idle), r.reusable);
    if (!r.retry_fresh) co_return std::move(r.outcomes);
  }
  auto where = co_await resolve(j.hop);
  if (!where.ok()) co_return std::vector<outcome>(n, dns_failure(where));
  auto tls = co_await plan(j.hop, where);
  if (j.mail.tls == base::tls_demand::not_required) ignore_recipient_policy(tls);
  if (requiretls) {
    auto why = require_verified(tls);
    if (!why.empty()) co_return std::vector<outcome>(n, requiretls_unverifiable(domain_of(j.rcpts.front().address), why));
  }
  if (!tls.defer.empty() && !tls.report.type.empty()) {
    reports_.failure(tls.report, {tls.failure_type, "", ""}, base::unix_seconds(base::real_clock().now()));
  }
  if (!tls.defer.empty()) co_return std::vector<outcome>(n, tls_policy_failed(tls.defer, "4.7.5"));
  auto conn = co_await connector_.open(j.hop, where, tls);
  if (!conn.client) co_return std::vector<outcome>(n, conn.failure);
  auto r = co_await run_transaction(*conn.client, j);
  note_tls(*conn.client, r.outcomes);
  co_await finish(j.hop.key, std::move(conn.client), r.reusable);
  co_return std::move(r.outcomes);
}

net::awaitable<void> smtp_deliverer::finish(const std::string& key, std::unique_ptr<smtp_client> c, bool reusable) {
  if (reusable) c = connections_.keep(key, std::move(c));
  if (c) co_await c->quit();
}

// The connection's TLS, for the events of the outcomes it gave.
void smtp_deliverer::note_tls(smtp_client& c, std::vector<outcome>& outcomes) {
  if (!c.stream().tls_active()) return;
  const auto info = net::describe(c.stream().ssl_handle());
  for (auto& o : outcomes) o.tls = {info.version, info.cipher, c.tls_checked.policy, c.tls_checked.verified};
}

net::awaitable<std::vector<finished_tls_report>> smtp_deliverer::finished_tls_reports() {
  std::vector<finished_tls_report> out;
  auto windows = reports_.take_finished(base::unix_seconds(base::real_clock().now()));
  for (auto& w : windows) {
    auto lookup = [this, name = "_smtp._tls." + w.domain] { return resolver_.txt(name); };
    auto txt = co_await pool_.run(std::move(lookup));
    auto rua = tlsrpt_rua(txt.value_or(std::vector<std::string>{}));
    if (rua.empty()) continue;  // the domain asks for no reports
    out.push_back(finished_tls_report{std::move(w), std::move(rua)});
  }
  if (auto text = reports_.snapshot()) {
    auto write = [file = reports_.state_file(), t = std::move(*text)] { return write_state_file(file, t); };
    const bool saved = co_await pool_.run(std::move(write));
    if (!saved) base::logger("delivery")->warn("{}: cannot save the TLS report counts", reports_.state_file().string());
  }
  co_return out;
}

net::awaitable<tls_plan> smtp_deliverer::plan(const next_hop& hop, const resolution& where) {
  auto it = dns_cache_.find(hop.key);
  if (it != dns_cache_.end() && it->second.plan) co_return *it->second.plan;
  auto p = co_await policies_.plan(hop, where);
  it = dns_cache_.find(hop.key);  // the map may have changed while the lookups ran
  if (it != dns_cache_.end()) it->second.plan = p;
  co_return p;
}

net::awaitable<resolution> smtp_deliverer::resolve(const next_hop& hop) {
  const auto now = std::chrono::steady_clock::now();
  if (auto it = dns_cache_.find(hop.key); it != dns_cache_.end() && it->second.until > now) co_return it->second.r;
  auto lookup = [this, hop] {  // named: a capturing lambda never sits in a co_await expression
    return hop.how == next_hop::kind::mx ? resolver_.mx(hop.name, hop.port) : resolver_.host(hop.name, hop.port);
  };
  auto r = co_await pool_.run(std::move(lookup));
  // Answers are kept for a minute, failures for a few seconds.
  dns_cache_[hop.key] = {r, now + (r.ok() ? std::chrono::seconds(60) : std::chrono::seconds(5)), std::nullopt};
  if (dns_cache_.size() > 10000) dns_cache_.clear();
  co_return r;
}

}  // namespace smtpsd::delivery
