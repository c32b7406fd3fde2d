// `smtpsd probe`: what listens on a mail port, and what is wrong with it.
#include <fmt/format.h>

#include <iostream>
#include <thread>

#include "base/strings.hpp"
#include "cli/cli.hpp"
#include "cli/client_common.hpp"
#include "cli/probe_report.hpp"

namespace smtpsd::cli {

namespace {

nlohmann::json opt(const std::optional<bool>& b) { return b ? nlohmann::json(*b) : nlohmann::json(nullptr); }

nlohmann::json ehlo_json(const std::optional<ehlo_info>& e) {
  if (!e) return nullptr;
  return {{"extensions", e->extensions},
          {"size", e->size ? nlohmann::json(*e->size) : nlohmann::json(nullptr)},
          {"auth", e->auth}};
}

nlohmann::json report_json(const probe_report& r) {
  auto chain = nlohmann::json::array();
  for (auto& c : r.chain)
    chain.push_back({{"subject", c.subject}, {"issuer", c.issuer}, {"names", c.names}, {"not_after", c.not_after},
                     {"days_left", c.days_left}, {"key_type", c.key_type}, {"key_bits", c.key_bits}});
  nlohmann::json tls = nullptr;
  if (!r.tls_version.empty())
    tls = {{"version", r.tls_version}, {"cipher", r.cipher}, {"group", r.group}, {"resumption", opt(r.resumption)},
           {"certificates", chain}, {"valid_for_host", opt(r.valid_for_host)},
           {"verify_error", r.verify_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.verify_error)}};
  return {{"target", r.target},
          {"mode", r.mode},
          {"error", r.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.error)},
          {"banner", r.banner.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.banner)},
          {"tls", tls},
          {"ehlo_before_tls", ehlo_json(r.ehlo_before_tls)},
          {"ehlo", ehlo_json(r.ehlo)},
          {"warnings", r.warnings}};
}

std::string mode_text(const std::string& m) {
  if (m == "implicit-tls") return "implicit TLS";
  if (m == "starttls") return "STARTTLS";
  if (m == "plain") return "plain SMTP";
  return m;
}

std::string ehlo_text(const ehlo_info& e) {
  std::string s;
  for (auto& x : e.extensions) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string report_text(const probe_report& r) {
  std::string s = fmt::format("{}  {}\n", r.target, mode_text(r.mode));
  if (!r.banner.empty()) s += fmt::format("  banner       {}\n", r.banner);
  if (!r.tls_version.empty()) {
    s += fmt::format("  TLS          {} {} {}; resumption {}\n", r.tls_version, r.cipher, r.group,
                     r.resumption ? (*r.resumption ? "works" : "refused") : "not tried");
    for (std::size_t i = 0; i < r.chain.size(); ++i) {
      auto& c = r.chain[i];
      s += fmt::format("  {}  {}\n", i == 0 ? "certificate" : "  issued by", c.subject);
      if (!c.names.empty()) s += fmt::format("               names {}\n", fmt::join(c.names, ", "));
      s += fmt::format("               issuer {}; expires {} ({} days); {} {} bits\n", c.issuer, c.not_after,
                       c.days_left, c.key_type, c.key_bits);
    }
    if (r.valid_for_host)
      s += fmt::format("  valid for host: {}\n", *r.valid_for_host ? "yes" : "no (" + r.verify_error + ")");
  }
  if (r.ehlo_before_tls && r.mode == "starttls") s += "  EHLO before TLS  " + ehlo_text(*r.ehlo_before_tls) + "\n";
  if (r.ehlo) {
    s += "  EHLO         " + ehlo_text(*r.ehlo) + "\n";
    if (r.ehlo->size) s += fmt::format("  SIZE         {}\n", *r.ehlo->size);
    s += fmt::format("  AUTH         {}\n", r.ehlo->auth.empty() ? "not offered" : fmt::format("{}", fmt::join(r.ehlo->auth, " ")));
  }
  if (r.warnings.empty())
    s += "  no warnings\n";
  else
    for (auto& w : r.warnings) s += "  WARNING: " + w + "\n";
  return s;
}

int exit_status(const probe_report& r) {
  if (r.mode == "closed") return 2;
  if (!r.warnings.empty() || !r.error.empty()) return 1;
  return 0;
}

std::string scan_line(const probe_report& r, std::uint16_t port) {
  std::string what = r.mode == "closed" ? "closed" : mode_text(r.mode);
  if (r.mode == "unknown") what = "not SMTP";
  std::string extra;
  if (!r.tls_version.empty()) extra += "  " + r.tls_version;
  if (r.ehlo) extra += "  AUTH " + (r.ehlo->auth.empty() ? std::string("none") : fmt::format("{}", fmt::join(r.ehlo->auth, " ")));
  return fmt::format("{:<6}{:<14}{}\n", port, what, extra);
}

}  // namespace

void probe_domain(context& ctx, const std::string& domain);  // probe_domain.cpp

void add_probe(CLI::App& app, context& ctx) {
  auto* cmd = app.add_subcommand("probe", "say what listens on a mail port (exit 0: fine, 1: warnings, 2: cannot connect)");
  auto target = std::make_shared<std::string>();
  auto mode = std::make_shared<std::string>("auto");
  auto scan = std::make_shared<bool>(false);
  auto timeout = std::make_shared<unsigned>(10);
  auto domain = std::make_shared<std::string>();
  cmd->add_option("TARGET", *target, "HOST:PORT, or HOST with --scan");
  cmd->add_option("--domain", *domain,
                  "a recipient domain: its MX hosts, DNSSEC, TLSA records, MTA-STS policy and the TLS smtpsd requires there");
  cmd->add_option("--mode", *mode, "auto (default), implicit-tls, starttls or plain")
      ->check(CLI::IsMember({"auto", "implicit-tls", "starttls", "plain"}));
  cmd->add_flag("--scan", *scan, "probe ports 25, 465, 587, 2465, 2525 and 2587 at once, one line each");
  cmd->add_option("--timeout", *timeout, "seconds to wait for each step (default 10)");
  cmd->callback([&ctx, target, mode, scan, timeout, domain] {
    if (!domain->empty()) return probe_domain(ctx, *domain);
    if (target->empty()) throw CLI::RequiredError("TARGET");
    probe_options o;
    o.mode = *mode;
    o.timeout = std::chrono::seconds(*timeout);
    if (*scan) {
      const std::vector<std::uint16_t> ports{25, 465, 587, 2465, 2525, 2587};
      auto host = *target;
      if (auto hp = base::host_port::parse(host, true)) host = hp->host;
      std::vector<probe_report> reports(ports.size());
      std::vector<std::thread> threads;
      o.thorough = false;
      for (std::size_t i = 0; i < ports.size(); ++i)
        threads.emplace_back([&, i] { reports[i] = probe(base::host_port{host, ports[i]}, o); });
      for (auto& t : threads) t.join();
      auto j = nlohmann::json::array();
      std::string text = fmt::format("{:<6}{:<14}{}\n", "port", "mode", "  TLS  AUTH");
      for (std::size_t i = 0; i < ports.size(); ++i) {
        j.push_back({{"port", ports[i]}, {"mode", reports[i].mode}, {"tls_version", reports[i].tls_version.empty() ? nlohmann::json(nullptr) : nlohmann::json(reports[i].tls_version)},
                     {"auth", reports[i].ehlo ? nlohmann::json(reports[i].ehlo->auth) : nlohmann::json(nullptr)}});
        text += scan_line(reports[i], ports[i]);
      }
      ctx.print(j, text);
      return;
    }
    auto where = parse_server(*target, 0, "TARGET");
    auto r = probe(where, o);
    ctx.print(report_json(r), report_text(r));
    if (!r.error.empty()) std::cerr << "smtpsd: " << r.error << "\n";
    ctx.exit_code = exit_status(r);
  });
}

}  // namespace smtpsd::cli
