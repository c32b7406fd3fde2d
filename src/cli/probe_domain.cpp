// `smtpsd probe --domain DOMAIN`: where mail for a domain goes and what TLS
// smtpsd would require there (its MX hosts, the DNSSEC status of the MX
// records, each host's TLSA records, the MTA-STS policy, the plan that
// delivery would follow). Uses the configuration's resolvers, trust anchor
// and MTA-STS port when a configuration is found, else the system's.
#include <fmt/format.h>

#include <filesystem>

#include "cli/cli.hpp"
#include "delivery/tls_policy.hpp"
#include "net/worker_pool.hpp"

namespace smtpsd::cli {

namespace {

std::string_view level_name(delivery::host_tls::need n) {
  switch (n) {
    case delivery::host_tls::need::none: return "no TLS";
    case delivery::host_tls::need::may: return "TLS when offered";
    case delivery::host_tls::need::encrypt: return "TLS required, any certificate";
    case delivery::host_tls::need::verify: return "TLS required, verified";
  }
  return "";
}

}  // namespace

void probe_domain(context& ctx, const std::string& domain) {
  delivery::tls_policy_settings s;
  std::uint16_t mx_port = 25;
  std::vector<base::host_port> resolvers;
  if (ctx.config_path || std::filesystem::exists("smtpsd.toml")) {
    auto c = ctx.load_config();
    resolvers = c.delivery.resolvers;
    s.trust_anchor = c.delivery.dnssec_trust_anchor.string();
    s.sts_port = c.delivery.mta_sts_port;
    mx_port = c.delivery.mx_port;
  }
  s.resolvers = resolvers;
  net::worker_pool pool(2);
  delivery::resolver dns(resolvers);
  delivery::tls_policies policies(pool, dns, s);
  net::asio::io_context io;
  delivery::next_hop hop{"mx:" + domain, delivery::next_hop::kind::mx, domain, mx_port, {}};

  nlohmann::json j;
  std::string text;
  auto run = [&]() -> net::awaitable<void> {
    auto lookup = [&dns, &domain, mx_port] { return dns.mx(domain, mx_port); };
    auto where = co_await pool.run(std::move(lookup));
    j["domain"] = domain;
    if (!where.ok()) {
      j["error"] = where.error;
      text += fmt::format("{}: {}\n", domain, where.error);
      co_return;
    }
    std::string why;
    auto sts = co_await policies.sts(domain, &why);
    auto plan = co_await policies.plan(hop, where);
    auto mx_security = [&] { return policies.validator()->security(domain, 15); };
    auto sec = co_await pool.run(std::move(mx_security));
    j["mx_dnssec"] = std::string(delivery::to_string(sec));
    j["policy"] = plan.policy;
    text += fmt::format("domain      {}\nMX records  DNSSEC {}\n", domain, delivery::to_string(sec));
    if (sts) {
      j["mta_sts"] = {{"id", sts->id}, {"mode", std::string(delivery::to_string(sts->how))}, {"mx", sts->mx},
                      {"max_age", sts->max_age}};
      text += fmt::format("MTA-STS     id {}, mode {}, mx {}, max_age {}\n", sts->id, delivery::to_string(sts->how),
                          fmt::join(sts->mx, " "), sts->max_age);
    } else {
      j["mta_sts"] = nullptr;
      text += "MTA-STS     " + (why.empty() ? std::string("none") : "none usable: " + why) + "\n";
    }
    text += fmt::format("policy      {}{}\n", plan.policy, plan.defer.empty() ? "" : " — deferred: " + plan.defer);
    if (!plan.defer.empty()) j["defer"] = plan.defer;
    j["hosts"] = nlohmann::json::array();
    for (std::size_t i = 0; i < where.hosts.size(); ++i) {
      const auto& h = where.hosts[i];
      const auto& t = plan.hosts[i];
      auto tlsa = nlohmann::json::array();
      std::string records;
      for (const auto& r : t.check.tlsa) {
        tlsa.push_back(delivery::presentation(r));
        records += "\n              TLSA " + delivery::presentation(r);
      }
      const std::string require = t.skip.empty() ? std::string(level_name(t.level)) : "not used: " + t.skip;
      j["hosts"].push_back({{"name", h.name}, {"preference", h.preference}, {"tlsa", tlsa}, {"requires", require},
                            {"report_only", t.report_only}});
      text += fmt::format("MX {:>3}      {}: {}{}{}\n", h.preference, h.name, require,
                          t.report_only ? " (testing: reported only)" : "", records);
    }
  };
  net::asio::co_spawn(io, run(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  ctx.print(j, text);
}

}  // namespace smtpsd::cli
