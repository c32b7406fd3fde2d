#include "config/config.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "base/strings.hpp"
#include "base/url.hpp"

namespace smtpsd::config {

namespace {

// Walks the TOML document with the key path in hand, so every error can say
// where it is.
class reader {
 public:
  explicit reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const toml::node* n, std::string_view key, std::string_view msg) const {
    if (n && n->source().begin.line)
      throw config_error(fmt::format("{}:{}: {}: {}", file_, n->source().begin.line, key, msg));
    throw config_error(fmt::format("{}: {}: {}", file_, key, msg));
  }

  void check_keys(const toml::table& t, std::string_view path, std::initializer_list<std::string_view> allowed) const {
    for (auto&& [k, v] : t) {
      bool ok = false;
      for (auto a : allowed) ok |= (k.str() == a);
      if (!ok) fail(&v, join(path, k.str()), "unknown key");
    }
  }

  static std::string join(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
  }

  const toml::table* table(const toml::table& t, std::string_view path, std::string_view key) const {
    auto* n = t.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) fail(n, join(path, key), "must be a table");
    return n->as_table();
  }

  std::string str(const toml::table& t, std::string_view path, std::string_view key, std::string def) const {
    auto* n = t.get(key);
    if (!n) return def;
    if (!n->is_string()) fail(n, join(path, key), "must be a string");
    return n->as_string()->get();
  }

  bool boolean(const toml::table& t, std::string_view path, std::string_view key, bool def) const {
    auto* n = t.get(key);
    if (!n) return def;
    if (!n->is_boolean()) fail(n, join(path, key), "must be true or false");
    return n->as_boolean()->get();
  }

  std::uint64_t integer(const toml::table& t, std::string_view path, std::string_view key, std::uint64_t def,
                        std::uint64_t min, std::uint64_t max) const {
    auto* n = t.get(key);
    if (!n) return def;
    if (!n->is_integer()) fail(n, join(path, key), "must be an integer");
    auto v = n->as_integer()->get();
    if (v < 0 || static_cast<std::uint64_t>(v) < min || static_cast<std::uint64_t>(v) > max)
      fail(n, join(path, key), fmt::format("must be between {} and {}, got {}", min, max, v));
    return static_cast<std::uint64_t>(v);
  }

  double number(const toml::table& t, std::string_view path, std::string_view key, double def, double min,
                double max) const {
    auto* n = t.get(key);
    if (!n) return def;
    double v;
    if (n->is_integer())
      v = static_cast<double>(n->as_integer()->get());
    else if (n->is_floating_point())
      v = n->as_floating_point()->get();
    else
      fail(n, join(path, key), "must be a number");
    if (!(v >= min && v <= max)) fail(n, join(path, key), fmt::format("must be between {} and {}", min, max));
    return v;
  }

  std::vector<std::pair<std::string, const toml::node*>> strings(const toml::table& t, std::string_view path,
                                                                 std::string_view key) const {
    std::vector<std::pair<std::string, const toml::node*>> out;
    auto* n = t.get(key);
    if (!n) return out;
    if (!n->is_array()) fail(n, join(path, key), "must be an array of strings");
    for (auto& e : *n->as_array()) {
      if (!e.is_string()) fail(&e, join(path, key), "must be an array of strings");
      out.emplace_back(e.as_string()->get(), &e);
    }
    return out;
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  std::filesystem::path path(p);
  return path.is_absolute() ? path : (base / path).lexically_normal();
}

listener_mode parse_mode(const reader& r, const toml::table& t, std::string_view path) {
  auto m = r.str(t, path, "mode", "implicit-tls");
  if (m == "implicit-tls") return listener_mode::implicit_tls;
  if (m == "starttls") return listener_mode::starttls;
  if (m == "inbound") return listener_mode::inbound;
  r.fail(t.get("mode"), reader::join(path, "mode"),
         fmt::format("must be \"implicit-tls\", \"starttls\" or \"inbound\", got \"{}\"", m));
}

std::vector<base::cidr> parse_cidrs(const reader& r, const toml::table& t, std::string_view path, std::string_view key) {
  std::vector<base::cidr> out;
  for (auto& [s, node] : r.strings(t, path, key)) {
    auto c = base::cidr::parse(s);
    if (!c) r.fail(node, reader::join(path, key), fmt::format("\"{}\" is not a CIDR range such as 10.0.0.0/8 or 2001:db8::/32", s));
    out.push_back(*c);
  }
  return out;
}

base::host_port parse_address(const reader& r, const toml::table& t, std::string_view path, std::string_view key,
                              bool allow_names, const std::string& def = "") {
  auto s = r.str(t, path, key, def);
  auto hp = base::host_port::parse(s, allow_names);
  if (!hp)
    r.fail(t.get(key), reader::join(path, key),
           fmt::format("\"{}\" is not {}:port (IPv6 as [addr]:port)", s, allow_names ? "host" : "an IP address"));
  return *hp;
}

// One function per section of SPEC §2; each takes the document root and
// fills its part of the config.

// [delivery.smarthost]; `t` is the [delivery] table, for error positions.
smarthost parse_smarthost(const reader& r, const toml::table& delivery, const toml::table& sh,
                          const std::filesystem::path& dir) {
  const std::string sp = "delivery.smarthost";
  r.check_keys(sh, sp, {"address", "mode", "username", "password_file", "ca_file"});
  smarthost s;
  if (!sh.get("address")) r.fail(delivery.get("smarthost"), reader::join(sp, "address"), "is required");
  s.address = parse_address(r, sh, sp, "address", true);
  auto mode = r.str(sh, sp, "mode", "starttls");
  if (mode == "implicit-tls")
    s.mode = listener_mode::implicit_tls;
  else if (mode == "starttls")
    s.mode = listener_mode::starttls;
  else
    r.fail(sh.get("mode"), reader::join(sp, "mode"), "must be \"implicit-tls\" or \"starttls\"");
  s.username = r.str(sh, sp, "username", "");
  auto pf = r.str(sh, sp, "password_file", "");
  if (!pf.empty()) {
    s.password_file = resolve(dir, pf);
    std::ifstream probe(s.password_file);
    if (!probe) r.fail(sh.get("password_file"), reader::join(sp, "password_file"),
                       fmt::format("cannot read {}", s.password_file.string()));
  }
  if (!s.username.empty() && pf.empty())
    r.fail(sh.get("username"), reader::join(sp, "password_file"), "is required with a username");
  if (auto ca = r.str(sh, sp, "ca_file", ""); !ca.empty()) {
    s.ca_file = resolve(dir, ca);
    std::ifstream probe(s.ca_file);
    if (!probe) r.fail(sh.get("ca_file"), reader::join(sp, "ca_file"), fmt::format("cannot read {}", s.ca_file.string()));
  }
  return s;
}

void parse_tls(const reader& r, const toml::table& root, const std::filesystem::path& dir, config& c) {
  if (auto* t = r.table(root, "", "tls")) {
    r.check_keys(*t, "tls", {"certificates", "min_version"});
    if (auto* n = t->get("certificates")) {
      if (!n->is_array()) r.fail(n, "tls.certificates", "must be an array of { cert = …, key = … }");
      std::size_t i = 0;
      for (auto& e : *n->as_array()) {
        auto path = fmt::format("tls.certificates[{}]", i++);
        if (!e.is_table()) r.fail(&e, path, "must be a table { cert = …, key = … }");
        auto& ct = *e.as_table();
        r.check_keys(ct, path, {"cert", "key"});
        certificate cert;
        for (auto [key, target] : {std::pair{"cert", &cert.cert}, std::pair{"key", &cert.key}}) {
          auto v = r.str(ct, path, key, "");
          if (v.empty()) r.fail(&e, reader::join(path, key), "is required");
          *target = resolve(dir, v);
          std::ifstream probe(*target);
          if (!probe) r.fail(ct.get(key), reader::join(path, key), fmt::format("cannot read {}", target->string()));
        }
        c.tls.certificates.push_back(cert);
      }
    }
    c.tls.min_version = r.str(*t, "tls", "min_version", "1.2");
    if (c.tls.min_version != "1.2" && c.tls.min_version != "1.3")
      r.fail(t->get("min_version"), "tls.min_version", "must be \"1.2\" or \"1.3\"");
  }
}

void parse_listeners(const reader& r, const toml::table& root, const std::filesystem::path& dir, config& c) {
  if (auto* n = root.get("listeners")) {
    if (!n->is_array_of_tables() && !(n->is_array() && n->as_array()->empty()))
      r.fail(n, "listeners", "must be an array of tables ([[listeners]])");
    std::size_t i = 0;
    std::set<std::string> seen;
    for (auto& e : *n->as_array()) {
      auto path = fmt::format("listeners[{}]", i++);
      auto& lt = *e.as_table();
      r.check_keys(lt, path, {"address", "mode", "allow", "deny", "proxy_protocol"});
      listener l;
      if (!lt.get("address")) r.fail(&e, reader::join(path, "address"), "is required");
      l.address = parse_address(r, lt, path, "address", false);
      l.mode = parse_mode(r, lt, path);
      l.allow = parse_cidrs(r, lt, path, "allow");
      l.deny = parse_cidrs(r, lt, path, "deny");
      l.proxy_protocol = r.boolean(lt, path, "proxy_protocol", false);
      if (!seen.insert(l.name()).second && l.address.port != 0)
        r.fail(lt.get("address"), reader::join(path, "address"), fmt::format("{} is listed twice", l.name()));
      c.listeners.push_back(l);
    }
  }
  if (!c.listeners.empty() && c.tls.certificates.empty())
    r.fail(root.get("tls"), "tls.certificates", "at least one certificate is needed: every listener uses TLS");
}

void parse_limits(const reader& r, const toml::table& root, const std::filesystem::path& dir, config& c) {
  if (auto* t = r.table(root, "", "limits")) {
    const std::string p = "limits";
    r.check_keys(*t, p, {"max_message_bytes", "max_recipients", "max_connections", "max_connections_per_ip",
                         "command_timeout_s", "data_timeout_s", "default_max_send_rate", "default_max_24h",
                         "max_errors", "drain_timeout_s", "sandbox_new_accounts", "duplicate_window_s"});
    auto& l = c.limit;
    l.max_message_bytes = r.integer(*t, p, "max_message_bytes", l.max_message_bytes, 1024, 1ull << 40);
    l.max_recipients = static_cast<unsigned>(r.integer(*t, p, "max_recipients", l.max_recipients, 1, 100000));
    l.max_connections = static_cast<unsigned>(r.integer(*t, p, "max_connections", l.max_connections, 1, 10000000));
    l.max_connections_per_ip =
        static_cast<unsigned>(r.integer(*t, p, "max_connections_per_ip", l.max_connections_per_ip, 1, 10000000));
    l.command_timeout_s = static_cast<unsigned>(r.integer(*t, p, "command_timeout_s", l.command_timeout_s, 1, 86400));
    l.data_timeout_s = static_cast<unsigned>(r.integer(*t, p, "data_timeout_s", l.data_timeout_s, 1, 86400));
    l.default_max_send_rate = r.number(*t, p, "default_max_send_rate", l.default_max_send_rate, 0.001, 1e9);
    l.default_max_24h = r.integer(*t, p, "default_max_24h", l.default_max_24h, 1, 1ull << 40);
    l.max_errors = static_cast<unsigned>(r.integer(*t, p, "max_errors", l.max_errors, 1, 1000));
    l.drain_timeout_s = static_cast<unsigned>(r.integer(*t, p, "drain_timeout_s", l.drain_timeout_s, 0, 86400));
    l.sandbox_new_accounts = r.boolean(*t, p, "sandbox_new_accounts", l.sandbox_new_accounts);
    l.duplicate_window_s = static_cast<unsigned>(r.integer(*t, p, "duplicate_window_s", l.duplicate_window_s, 0, 86400));
  }
}

void parse_bounces(const reader& r, const toml::table& root, const std::filesystem::path&, config& c) {
  if (auto* t = r.table(root, "", "bounces")) {
    r.check_keys(*t, "bounces", {"domain", "max_report_bytes"});
    auto d = base::to_lower(r.str(*t, "bounces", "domain", ""));
    if (!d.empty() && (d.size() > 253 || d.find('.') == std::string::npos ||
                       d.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos))
      r.fail(t->get("domain"), "bounces.domain", fmt::format("\"{}\" is not a domain such as bounces.example.com", d));
    c.bounces.domain = d;
    c.bounces.max_report_bytes =
        r.integer(*t, "bounces", "max_report_bytes", c.bounces.max_report_bytes, 4096, 64ull << 20);
  }
  for (auto& l : c.listeners)
    if (l.mode == listener_mode::inbound && c.bounces.domain.empty())
      r.fail(root.get("listeners"), "bounces.domain",
             fmt::format("is required: listener {} has mode = \"inbound\", which takes mail for that domain", l.name()));
}

void parse_reputation(const reader& r, const toml::table& root, const std::filesystem::path&, config& c) {
  auto* t = r.table(root, "", "reputation");
  if (!t) return;
  const std::string p = "reputation";
  r.check_keys(*t, p, {"bounce_warning_percent", "bounce_pause_percent", "complaint_warning_percent",
                       "complaint_pause_percent", "min_recipients", "window_recipients", "window_days"});
  auto& v = c.reputation;
  v.bounce_warning_percent = r.number(*t, p, "bounce_warning_percent", v.bounce_warning_percent, 0, 100);
  v.bounce_pause_percent = r.number(*t, p, "bounce_pause_percent", v.bounce_pause_percent, 0, 100);
  v.complaint_warning_percent = r.number(*t, p, "complaint_warning_percent", v.complaint_warning_percent, 0, 100);
  v.complaint_pause_percent = r.number(*t, p, "complaint_pause_percent", v.complaint_pause_percent, 0, 100);
  v.min_recipients = r.integer(*t, p, "min_recipients", v.min_recipients, 1, 1ull << 40);
  v.window_recipients = r.integer(*t, p, "window_recipients", v.window_recipients, 1, 1ull << 40);
  v.window_days = static_cast<unsigned>(r.integer(*t, p, "window_days", v.window_days, 1, 365));
  if (v.bounce_warning_percent > v.bounce_pause_percent)
    r.fail(t->get("bounce_warning_percent"), "reputation.bounce_warning_percent", "must not be above bounce_pause_percent");
  if (v.complaint_warning_percent > v.complaint_pause_percent)
    r.fail(t->get("complaint_warning_percent"), "reputation.complaint_warning_percent",
           "must not be above complaint_pause_percent");
}

void parse_auth(const reader& r, const toml::table& root, const std::filesystem::path& dir, config& c) {
  if (auto* t = r.table(root, "", "auth")) {
    r.check_keys(*t, "auth", {"failures_before_throttle", "failure_window_s"});
    c.auth.failures_before_throttle =
        static_cast<unsigned>(r.integer(*t, "auth", "failures_before_throttle", c.auth.failures_before_throttle, 1, 1000000));
    c.auth.failure_window_s =
        static_cast<unsigned>(r.integer(*t, "auth", "failure_window_s", c.auth.failure_window_s, 1, 86400 * 30));
  }
}

void parse_delivery(const reader& r, const toml::table& root, const std::filesystem::path& dir, config& c) {
  if (auto* t = r.table(root, "", "delivery")) {
    const std::string p = "delivery";
    auto& d = c.delivery;
    r.check_keys(*t, p, {"enabled", "max_queue_age_s", "delay_warning_s", "routes", "resolvers", "mx_port", "smarthost", "lease_s",
                         "concurrency", "per_destination", "connect_timeout_s", "command_timeout_s", "tls_policy",
                         "dnssec_trust_anchor", "mta_sts_port", "tls_report_period_s"});
    d.enabled = r.boolean(*t, p, "enabled", d.enabled);
    d.max_queue_age_s = r.integer(*t, p, "max_queue_age_s", d.max_queue_age_s, 1, 86400ull * 365);
    d.delay_warning_s = r.integer(*t, p, "delay_warning_s", d.delay_warning_s, 0, 86400ull * 365);
    d.mx_port = static_cast<std::uint16_t>(r.integer(*t, p, "mx_port", d.mx_port, 1, 65535));
    d.lease_s = static_cast<unsigned>(r.integer(*t, p, "lease_s", d.lease_s, 5, 86400));
    d.concurrency = static_cast<unsigned>(r.integer(*t, p, "concurrency", d.concurrency, 1, 100000));
    d.per_destination = static_cast<unsigned>(r.integer(*t, p, "per_destination", d.per_destination, 1, 10000));
    d.connect_timeout_s = static_cast<unsigned>(r.integer(*t, p, "connect_timeout_s", d.connect_timeout_s, 1, 3600));
    d.command_timeout_s = static_cast<unsigned>(r.integer(*t, p, "command_timeout_s", d.command_timeout_s, 1, 3600));
    if (auto* routes = r.table(*t, p, "routes")) {
      for (auto&& [k, v] : *routes) {
        auto key = fmt::format("delivery.routes.\"{}\"", k.str());
        const toml::node* address = &v;
        if (auto* rt = v.as_table()) {  // { address = "host:port", tls = "none" | "may" | "verify" }
          r.check_keys(*rt, key, {"address", "tls"});
          address = rt->get("address");
          if (!address) r.fail(&v, key, "needs address = \"host:port\"");
          auto tls = r.str(*rt, key, "tls", "");
          if (!tls.empty() && tls != "none" && tls != "may" && tls != "verify")
            r.fail(rt->get("tls"), reader::join(key, "tls"), "must be \"none\", \"may\" or \"verify\"");
          if (!tls.empty()) d.route_tls[base::to_lower(k.str())] = tls;
          key = reader::join(key, "address");
        }
        if (!address->is_string()) r.fail(address, key, "must be a string \"host:port\"");
        auto hp = base::host_port::parse(address->as_string()->get(), true);
        if (!hp) r.fail(address, key, fmt::format("\"{}\" is not host:port", address->as_string()->get()));
        d.routes[base::to_lower(k.str())] = *hp;
      }
    }
    for (auto& [s, node] : r.strings(*t, p, "resolvers")) {
      auto hp = base::host_port::parse(s, false);
      if (!hp) r.fail(node, "delivery.resolvers", fmt::format("\"{}\" is not ip:port", s));
      d.resolvers.push_back(*hp);
    }
    if (auto* sh = r.table(*t, p, "smarthost")) d.relay = parse_smarthost(r, *t, *sh, dir);
    d.tls_policy = r.str(*t, p, "tls_policy", d.tls_policy);
    if (d.tls_policy != "opportunistic" && d.tls_policy != "dane-mta-sts")
      r.fail(t->get("tls_policy"), "delivery.tls_policy", "must be \"opportunistic\" or \"dane-mta-sts\"");
    d.mta_sts_port = static_cast<std::uint16_t>(r.integer(*t, p, "mta_sts_port", d.mta_sts_port, 1, 65535));
    d.tls_report_period_s = r.integer(*t, p, "tls_report_period_s", d.tls_report_period_s, 1, 86400);
    if (t->get("dnssec_trust_anchor")) {
      d.dnssec_trust_anchor = dir / r.str(*t, p, "dnssec_trust_anchor", "");
      std::ifstream probe(d.dnssec_trust_anchor);
      if (!probe)
        r.fail(t->get("dnssec_trust_anchor"), "delivery.dnssec_trust_anchor",
               fmt::format("cannot read {}", d.dnssec_trust_anchor.string()));
    }
  }
}

void parse_storage(const reader& r, const toml::table& root, const std::filesystem::path& dir, config& c) {
  if (auto* t = r.table(root, "", "storage")) {
    r.check_keys(*t, "storage", {"backend", "postgres_url", "redis_url", "node"});
    c.storage.backend = r.str(*t, "storage", "backend", "embedded");
    c.storage.postgres_url = r.str(*t, "storage", "postgres_url", "");
    c.storage.redis_url = r.str(*t, "storage", "redis_url", "");
    c.storage.node = r.str(*t, "storage", "node", "");
    if (c.storage.backend != "embedded" && c.storage.backend != "postgres")
      r.fail(t->get("backend"), "storage.backend", "must be \"embedded\" or \"postgres\"");
    if (c.storage.backend == "postgres" && c.storage.postgres_url.empty())
      r.fail(t->get("backend"), "storage.postgres_url", "is required with backend = \"postgres\"");
    if (!c.storage.redis_url.empty() && !base::istarts_with(c.storage.redis_url, "redis://"))
      r.fail(t->get("redis_url"), "storage.redis_url", "must be a redis:// URL");
  }
}

void parse_admin(const reader& r, const toml::table& root, const std::filesystem::path& dir, config& c) {
  if (auto* t = r.table(root, "", "admin")) {
    r.check_keys(*t, "admin", {"listen", "tls"});
    if (!r.str(*t, "admin", "listen", "").empty()) c.admin_listen = parse_address(r, *t, "admin", "listen", false);
    c.admin_tls = r.boolean(*t, "admin", "tls", false);
    if (c.admin_tls && c.tls.certificates.empty())
      r.fail(t->get("tls"), "admin.tls", "needs the [tls] certificates, and there are none");
  } else {
    c.admin_listen = base::host_port{"127.0.0.1", 8025};
  }
}

// The event types of SPEC §5 (events/event.hpp has the same list; config
// may not include events).
bool events_type_known(const std::string& t) {
  static const std::set<std::string> types = {"send",           "reject",    "delivery",  "bounce",
                                              "delivery_delay", "complaint", "reputation"};
  return types.count(t) > 0;
}

// One webhook table; `path` names it in errors ("events.webhooks[0]").
webhook parse_webhook(const reader& r, const toml::table& t, const std::string& path, const std::filesystem::path& dir,
                      const std::string& name_prefix) {
  r.check_keys(t, path, {"name", "url", "secret", "secret_file", "types", "accounts", "format", "ca_file",
                         "max_in_flight", "pipeline", "max_age_s", "timeout_s", "max_backoff_s"});
  webhook w;
  w.url = r.str(t, path, "url", "");
  if (w.url.empty()) r.fail(&t, reader::join(path, "url"), "is required");
  if (!base::parse_http_url(w.url))
    r.fail(t.get("url"), reader::join(path, "url"), fmt::format("\"{}\" is not an http:// or https:// URL", w.url));
  w.name = r.str(t, path, "name", name_prefix + w.url);
  w.secret = r.str(t, path, "secret", "");
  if (auto f = r.str(t, path, "secret_file", ""); !f.empty()) {
    if (t.get("secret")) r.fail(t.get("secret_file"), reader::join(path, "secret_file"), "give secret or secret_file, not both");
    const auto file = resolve(dir, f);
    std::ifstream in(file);
    if (!in) r.fail(t.get("secret_file"), reader::join(path, "secret_file"), fmt::format("cannot read {}", file.string()));
    std::getline(in, w.secret);
    if (!w.secret.empty() && w.secret.back() == '\r') w.secret.pop_back();
  }
  for (auto& [type, node] : r.strings(t, path, "types")) {
    if (!events_type_known(type))
      r.fail(node, reader::join(path, "types"),
             fmt::format("\"{}\" is not an event type (send, reject, delivery, bounce, delivery_delay, complaint, reputation)", type));
    w.types.push_back(type);
  }
  for (auto& [account, node] : r.strings(t, path, "accounts")) w.accounts.push_back(account);
  w.format = r.str(t, path, "format", "smtpsd");
  if (w.format != "smtpsd" && w.format != "ses") r.fail(t.get("format"), reader::join(path, "format"), "must be \"smtpsd\" or \"ses\"");
  if (auto ca = r.str(t, path, "ca_file", ""); !ca.empty()) {
    w.ca_file = resolve(dir, ca);
    std::ifstream probe(w.ca_file);
    if (!probe) r.fail(t.get("ca_file"), reader::join(path, "ca_file"), fmt::format("cannot read {}", w.ca_file.string()));
  }
  w.max_in_flight = static_cast<unsigned>(r.integer(t, path, "max_in_flight", w.max_in_flight, 1, 256));
  w.pipeline = static_cast<unsigned>(r.integer(t, path, "pipeline", w.pipeline, 1, 256));
  w.max_age_s = r.integer(t, path, "max_age_s", w.max_age_s, 1, 86400ull * 365);
  w.timeout_s = static_cast<unsigned>(r.integer(t, path, "timeout_s", w.timeout_s, 1, 3600));
  w.max_backoff_s = static_cast<unsigned>(r.integer(t, path, "max_backoff_s", w.max_backoff_s, 1, 86400));
  return w;
}

std::vector<webhook> parse_webhooks(const reader& r, const toml::table& t, const std::string& path,
                                    const std::filesystem::path& dir, const std::string& name_prefix) {
  std::vector<webhook> out;
  auto* n = t.get("webhooks");
  if (!n) return out;
  if (!n->is_array_of_tables() && !(n->is_array() && n->as_array()->empty()))
    r.fail(n, reader::join(path, "webhooks"), "must be an array of tables ([[" + reader::join(path, "webhooks") + "]])");
  std::size_t i = 0;
  for (auto& e : *n->as_array()) out.push_back(parse_webhook(r, *e.as_table(), fmt::format("{}.webhooks[{}]", path, i++), dir, name_prefix));
  return out;
}

void parse_events(const reader& r, const toml::table& root, const std::filesystem::path& dir, config& c) {
  auto* t = r.table(root, "", "events");
  if (!t) return;
  r.check_keys(*t, "events", {"webhook", "webhooks", "retention_days"});
  if (auto url = r.str(*t, "events", "webhook", ""); !url.empty()) {
    if (!base::parse_http_url(url))
      r.fail(t->get("webhook"), "events.webhook", fmt::format("\"{}\" is not an http:// or https:// URL", url));
    webhook w;
    w.name = w.url = url;
    c.events.webhooks.push_back(w);
  }
  for (auto& w : parse_webhooks(r, *t, "events", dir, "")) c.events.webhooks.push_back(std::move(w));
  c.events.retention_days = static_cast<unsigned>(r.integer(*t, "events", "retention_days", c.events.retention_days, 1, 3650));
}

void parse_configuration_sets(const reader& r, const toml::table& root, const std::filesystem::path& dir, config& c) {
  auto* n = root.get("configuration_sets");
  if (!n) return;
  if (!n->is_array_of_tables() && !(n->is_array() && n->as_array()->empty()))
    r.fail(n, "configuration_sets", "must be an array of tables ([[configuration_sets]])");
  std::set<std::string> seen;
  std::size_t i = 0;
  for (auto& e : *n->as_array()) {
    const auto path = fmt::format("configuration_sets[{}]", i++);
    auto& t = *e.as_table();
    r.check_keys(t, path, {"name", "webhooks"});
    configuration_set s;
    s.name = r.str(t, path, "name", "");
    if (s.name.empty() || s.name.size() > 64 ||
        s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != std::string::npos)
      r.fail(t.get("name") ? t.get("name") : &e, reader::join(path, "name"),
             "is required: 1 to 64 letters, digits, '-' and '_'");
    if (!seen.insert(s.name).second) r.fail(t.get("name"), reader::join(path, "name"), fmt::format("\"{}\" is defined twice", s.name));
    s.webhooks = parse_webhooks(r, t, path, dir, s.name + ":");
    c.configuration_sets.push_back(std::move(s));
  }
}

void parse_log(const reader& r, const toml::table& root, const std::filesystem::path& dir, config& c) {
  if (auto* t = r.table(root, "", "log")) {
    r.check_keys(*t, "log", {"level", "format"});
    c.log.level = r.str(*t, "log", "level", "info");
    c.log.format = r.str(*t, "log", "format", "json");
    static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!levels.count(c.log.level))
      r.fail(t->get("level"), "log.level", "must be one of trace, debug, info, warn, error, critical, off");
    if (c.log.format != "json" && c.log.format != "text")
      r.fail(t->get("format"), "log.format", "must be \"json\" or \"text\"");
  }
}

}  // namespace

std::string_view to_string(listener_mode m) {
  switch (m) {
    case listener_mode::implicit_tls: return "implicit-tls";
    case listener_mode::starttls: return "starttls";
    case listener_mode::inbound: return "inbound";
  }
  return "starttls";
}

std::string listener::name() const { return address.to_string(); }

config parse(std::string_view text, const std::filesystem::path& file) {
  reader r(file.string());
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    throw config_error(fmt::format("{}:{}:{}: {}", file.string(), e.source().begin.line, e.source().begin.column,
                                   e.description()));
  }
  const auto dir = std::filesystem::absolute(file).parent_path();
  config c;
  c.file = std::filesystem::absolute(file);
  r.check_keys(root, "", {"hostname", "data_dir", "user", "allow_root", "threads", "scheduling", "cpu_affinity",
                          "tls", "listeners", "limits", "auth", "delivery",
                          "storage", "admin", "events", "configuration_sets", "log", "bounces", "reputation"});
  c.hostname = r.str(root, "", "hostname", "localhost");
  if (c.hostname.empty() || c.hostname.size() > 253 || c.hostname.find_first_of(" \t\r\n;()[]") != std::string::npos)
    r.fail(root.get("hostname"), "hostname", "must be a host name such as mail.example.com");
  c.data_dir = resolve(dir, r.str(root, "", "data_dir", "data"));
  c.user = r.str(root, "", "user", "");
  c.allow_root = r.boolean(root, "", "allow_root", false);
  c.threads = static_cast<unsigned>(r.integer(root, "", "threads", 0, 0, 256));
  const auto scheduling = r.str(root, "", "scheduling", "batch");
  if (scheduling != "batch" && scheduling != "normal")
    r.fail(root.get("scheduling"), "scheduling", "must be \"batch\" or \"normal\"");
  c.batch_scheduling = scheduling == "batch";
  c.cpu_affinity = r.boolean(root, "", "cpu_affinity", true);
  parse_tls(r, root, dir, c);
  parse_listeners(r, root, dir, c);
  parse_limits(r, root, dir, c);
  parse_auth(r, root, dir, c);
  parse_delivery(r, root, dir, c);
  parse_storage(r, root, dir, c);
  parse_admin(r, root, dir, c);
  parse_events(r, root, dir, c);
  parse_bounces(r, root, dir, c);
  parse_reputation(r, root, dir, c);
  parse_configuration_sets(r, root, dir, c);
  parse_log(r, root, dir, c);
  return c;
}

config load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw config_error(fmt::format("{}: cannot read the configuration file", file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), file);
}

std::filesystem::path locate(const std::optional<std::string>& explicit_path) {
  if (explicit_path) return *explicit_path;
  if (std::filesystem::exists("smtpsd.toml")) return "smtpsd.toml";
  if (std::filesystem::exists("/etc/smtpsd/smtpsd.toml")) return "/etc/smtpsd/smtpsd.toml";
  throw config_error("no configuration file: give -c FILE, or create ./smtpsd.toml (smtpsd init DIR writes one)");
}

}  // namespace smtpsd::config
