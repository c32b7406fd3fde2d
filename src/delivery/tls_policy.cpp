#include "delivery/tls_policy.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "base/time_format.hpp"
#include "net/http_client.hpp"

namespace smtpsd::delivery {

namespace {
constexpr int type_a = 1;
constexpr int type_aaaa = 28;
constexpr int type_mx = 15;

// RFC 7672 §3.1: DANE-TA(2) and DANE-EE(3), selector 0/1, matching 0/1/2.
bool usable(const net::tlsa_record& r) {
  return (r.usage == 2 || r.usage == 3) && r.selector <= 1 && r.mtype <= 2 && !r.data.empty();
}
}  // namespace

std::string presentation(const net::tlsa_record& r) {
  std::string hex;
  static const char* digits = "0123456789abcdef";
  for (unsigned char c : r.data) {
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  return std::to_string(r.usage) + " " + std::to_string(r.selector) + " " + std::to_string(r.mtype) + " " + hex;
}

void ignore_recipient_policy(tls_plan& p) {
  if (p.policy != "dane" && p.policy != "mta-sts" && p.defer.empty()) return;
  p.policy = "opportunistic";
  p.defer.clear();
  for (auto& h : p.hosts) h = host_tls{};
}

std::string require_verified(tls_plan& p) {
  if (p.policy == "smarthost" || !p.defer.empty()) return {};  // a deferral stays one (a bogus answer may pass)
  if (p.policy == "opportunistic") return "no DANE or MTA-STS policy applies";
  bool any = false;
  for (auto& h : p.hosts) {
    if (!h.skip.empty()) continue;
    if (p.policy == "mta-sts" && !h.check.name.empty()) {  // testing mode: checked as if enforced
      h.level = host_tls::need::verify;
      h.report_only = false;
    }
    if (h.level != host_tls::need::verify) {
      h.skip = "REQUIRETLS: this host would not be verified";
      continue;
    }
    any = true;
  }
  if (any) return {};
  return p.policy == "route" ? "the route does not say tls = \"verify\"" : "no host of the " + p.policy + " policy can be verified";
}

tls_policies::tls_policies(net::worker_pool& pool, const resolver& dns, tls_policy_settings s)
    : pool_(pool), dns_(dns), s_(std::move(s)) {
  if (s_.enforce_policies) dnssec_ = std::make_unique<dnssec_resolver>(s_.resolvers, s_.trust_anchor);
  https_ = net::make_client_context(net::client_tls_options{});  // system CAs, SSL_CERT_FILE honoured
  load_cache();
}

tls_policies::~tls_policies() = default;

net::awaitable<tls_plan> tls_policies::plan(const next_hop& hop, const resolution& where) {
  tls_plan p;
  p.hosts.resize(where.hosts.size());
  if (hop.smarthost()) {
    p.policy = "smarthost";
    co_return p;
  }
  if (!hop.tls.empty()) {
    p.policy = "route";
    for (std::size_t i = 0; i < where.hosts.size(); ++i) {
      auto& h = p.hosts[i];
      if (hop.tls == "none") h.level = host_tls::need::none;
      if (hop.tls == "verify") {
        h.level = host_tls::need::verify;
        h.check.name = hop.name;
      }
    }
    co_return p;
  }
  if (hop.how != next_hop::kind::mx || !s_.enforce_policies) co_return p;
  p.policy_domain = hop.name;

  co_await dane(hop.name, hop, where, p);
  if (!p.defer.empty() || p.policy == "dane") co_return p;

  std::string why;
  auto sts_p = co_await sts(hop.name, &why);
  if (!sts_p || sts_p->how == sts_policy::mode::none) co_return p;
  p.policy = "mta-sts";
  const std::string mode(to_string(sts_p->how));
  p.report = {hop.name, "sts", {"version: STSv1", "mode: " + mode}, sts_p->mx};
  for (const auto& m : sts_p->mx) p.report.strings.push_back("mx: " + m);
  p.report.strings.push_back("max_age: " + std::to_string(sts_p->max_age));
  const bool enforce = sts_p->how == sts_policy::mode::enforce;
  for (std::size_t i = 0; i < where.hosts.size(); ++i) {
    auto& h = p.hosts[i];
    h.check.name = where.hosts[i].name;
    if (!sts_mx_matches(*sts_p, where.hosts[i].name)) {
      if (enforce) {
        h.skip = "not an mx of the domain's MTA-STS policy";
        h.skip_type = "validation-failure";
      } else {
        h.report_only = true;
      }
      continue;
    }
    h.level = enforce ? host_tls::need::verify : host_tls::need::may;
    h.report_only = !enforce;
  }
  co_return p;
}

net::awaitable<void> tls_policies::dane(const std::string& domain, const next_hop& hop, const resolution& where,
                                        tls_plan& p) {
  struct looked_up {
    dnssec mx = dnssec::insecure;
    std::string why;
    std::vector<tlsa_answer> tlsa;
  };
  auto work = [this, &domain, &hop, &where]() {
    looked_up r;
    r.mx = dnssec_->security(domain, type_mx, &r.why);
    r.tlsa.resize(where.hosts.size());
    if (r.mx != dnssec::secure) return r;
    for (std::size_t i = 0; i < where.hosts.size(); ++i) {
      const auto& name = where.hosts[i].name;
      // RFC 7672 §2.2.2: TLSA records count only for a host whose address is secure.
      auto addr = dnssec_->security(name, type_a);
      if (addr == dnssec::insecure) addr = dnssec_->security(name, type_aaaa);
      if (addr != dnssec::secure) continue;
      r.tlsa[i] = dnssec_->tlsa(name, hop.port);
    }
    return r;
  };
  auto r = co_await pool_.run(std::move(work));
  base::logger("delivery")->debug("DANE: the MX records of {} are {}{}", domain, to_string(r.mx),
                                  r.why.empty() ? "" : " (" + r.why + ")");
  if (r.mx == dnssec::bogus) {
    p.defer = "DNSSEC validation of the MX records of " + domain + " failed: " + r.why;
    p.failure_type = "dnssec-invalid";
    p.report = {domain, "tlsa", {}, {}};
    co_return;
  }
  bool any = false;
  for (std::size_t i = 0; i < r.tlsa.size(); ++i) {
    auto& t = r.tlsa[i];
    auto& h = p.hosts[i];
    const auto& name = where.hosts[i].name;
    if (t.security == dnssec::bogus || t.security == dnssec::failed) {
      // §2.2: a TLSA lookup that fails for a secure host makes the host unusable.
      h.skip = "TLSA lookup " + std::string(to_string(t.security)) + (t.why.empty() ? "" : ": " + t.why);
      h.skip_type = t.security == dnssec::bogus ? "dnssec-invalid" : "tlsa-invalid";
      any = true;
      continue;
    }
    if (t.security != dnssec::secure || t.records.empty()) continue;
    any = true;
    for (const auto& rec : t.records) p.report.strings.push_back(presentation(rec));
    for (auto& rec : t.records)
      if (usable(rec)) h.check.tlsa.push_back(rec);
    if (h.check.tlsa.empty()) {
      h.level = host_tls::need::encrypt;  // §3.1: unusable records still mean TLS
      continue;
    }
    h.level = host_tls::need::verify;
    h.check.dane_names = {name, domain};
  }
  if (any) {
    p.policy = "dane";
    p.report.domain = domain;
    p.report.type = "tlsa";
  }
}

net::awaitable<std::optional<sts_policy>> tls_policies::sts(const std::string& domain, std::string* why) {
  auto lookup = [this, name = "_mta-sts." + domain] { return dns_.txt(name); };
  auto txt = co_await pool_.run(std::move(lookup));
  const auto now = base::unix_seconds(base::real_clock().now());
  std::optional<sts_policy> cached;
  if (auto it = sts_cache_.find(domain); it != sts_cache_.end()) {
    if (it->second.fetched + static_cast<std::int64_t>(it->second.policy.max_age) > now) cached = it->second.policy;
  }
  const auto id = txt ? sts_record_id(*txt) : std::nullopt;
  // RFC 8461 §5.1: no TXT record (or no answer) with a policy still cached: keep using it.
  if (!id) co_return cached;
  if (cached && cached->id == *id) {
    // A day old: fetched again in the background, this delivery uses the cached one.
    if (now - sts_cache_[domain].fetched > 86400 && !refreshing_[domain]) {
      refreshing_[domain] = true;
      auto ex = co_await net::asio::this_coro::executor;
      net::asio::co_spawn(ex, refresh(domain, *id), net::asio::detached);
    }
    co_return cached;
  }
  if (auto f = sts_failed_.find(domain); f != sts_failed_.end() && f->second > std::chrono::steady_clock::now()) {
    if (why) *why = "policy fetch failed recently";
    co_return cached;
  }
  std::string problem;
  auto fetched = co_await fetch(domain, *id, problem);
  if (fetched) co_return fetched;
  if (why) *why = problem;
  co_return cached;  // §5.1: a failed fetch keeps the cached policy (none: no policy)
}

net::awaitable<void> tls_policies::refresh(std::string domain, std::string id) {
  std::string ignored;
  auto p = co_await fetch(domain, id, ignored);
  refreshing_.erase(domain);
}

net::awaitable<std::optional<sts_policy>> tls_policies::fetch(const std::string& domain, const std::string& id,
                                                             std::string& why) {
  const std::string host = "mta-sts." + domain;
  const auto port = s_.sts_port;
  auto lookup = [this, host, port] { return dns_.host(host, port); };
  auto addrs = co_await pool_.run(std::move(lookup));
  std::optional<sts_policy> out;
  auto log = base::logger("delivery");
  if (!addrs.ok()) {
    why = "cannot resolve " + host + ": " + addrs.error;
  } else {
    auto url = net::parse_http_url("https://" + host + ":" + std::to_string(port) + "/.well-known/mta-sts.txt");
    net::http_client::options o;
    o.timeout = std::chrono::seconds(20);
    o.max_body = 64 * 1024;  // RFC 8461 §3.3
    o.max_idle = 0;
    for (auto& a : addrs.hosts.front().addresses) o.connect_to.push_back(a);
    auto ex = co_await net::asio::this_coro::executor;
    net::http_client client(ex, *url, https_, o);
    const net::http_headers none;
    auto r = co_await client.get(none);
    std::string problem;
    if (r.status != 200) {
      why = r.status ? "HTTP status " + std::to_string(r.status) : r.error;  // redirects are not followed (§3.3)
    } else if (auto p = parse_sts_policy(r.body, &problem)) {
      p->id = id;
      out = std::move(*p);
    } else {
      why = "invalid policy: " + problem;
    }
  }
  if (!out) {
    log->warn("MTA-STS policy of {}: {}", domain, why);
    sts_failed_[domain] = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    co_return out;
  }
  log->info("MTA-STS policy of {}: id {}, mode {}, max_age {}", domain, id, to_string(out->how), out->max_age);
  sts_failed_.erase(domain);
  sts_cache_[domain] = cached_sts{*out, base::unix_seconds(base::real_clock().now())};
  co_await save_cache();
  co_return out;
}

void tls_policies::load_cache() {
  if (s_.sts_cache.empty()) return;
  std::ifstream in(s_.sts_cache);
  if (!in) return;
  try {
    auto j = nlohmann::json::parse(in);
    for (auto& [domain, e] : j.at("policies").items()) {
      cached_sts c;
      c.fetched = e.at("fetched").get<std::int64_t>();
      c.policy.id = e.at("id").get<std::string>();
      c.policy.max_age = e.at("max_age").get<std::uint64_t>();
      c.policy.how = sts_mode(e.at("mode").get<std::string>()).value_or(sts_policy::mode::none);
      c.policy.mx = e.at("mx").get<std::vector<std::string>>();
      sts_cache_[domain] = std::move(c);
    }
  } catch (const std::exception& e) {
    base::logger("delivery")->warn("{}: unreadable MTA-STS cache, starting empty ({})", s_.sts_cache.string(),
                                   e.what());
    sts_cache_.clear();
  }
}

net::awaitable<void> tls_policies::save_cache() {
  if (s_.sts_cache.empty()) co_return;
  nlohmann::json j;
  j["policies"] = nlohmann::json::object();
  const auto now = base::unix_seconds(base::real_clock().now());
  for (auto& [domain, c] : sts_cache_) {
    if (c.fetched + static_cast<std::int64_t>(c.policy.max_age) <= now) continue;
    j["policies"][domain] = {{"id", c.policy.id},
                             {"mode", std::string(to_string(c.policy.how))},
                             {"max_age", c.policy.max_age},
                             {"mx", c.policy.mx},
                             {"fetched", c.fetched}};
  }
  // Written and renamed on the pool: a crash leaves the old file or the new one.
  auto write = [path = s_.sts_cache, text = j.dump(1)] { return write_state_file(path, text); };
  const bool ok = co_await pool_.run(std::move(write));
  if (!ok) base::logger("delivery")->warn("{}: cannot write the MTA-STS cache", s_.sts_cache.string());
}

}  // namespace smtpsd::delivery
