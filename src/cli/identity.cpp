#include <fmt/format.h>

#include "base/clock.hpp"
#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "cli/cli.hpp"
#include "delivery/resolver.hpp"
#include "dkim/keystore.hpp"
#include "policy/identity.hpp"

namespace smtpsd::cli {

namespace {

nlohmann::json record(std::string name, std::string value) {
  return {{"name", std::move(name)}, {"type", "TXT"}, {"value", std::move(value)}};
}

// The records to publish for an identity: SPF and DMARC recommendations for
// its domain (the DKIM records come with DKIM keys).
nlohmann::json dns_records(const policy::identity_spec& id, const config::config& c) {
  auto domain = std::string(id.kind == store::identity_kind::domain ? id.value : policy::domain_of(id.value));
  auto records = nlohmann::json::array();
  records.push_back(record(domain, fmt::format("v=spf1 a:{} ~all", c.hostname)));
  records.push_back(record("_dmarc." + domain, fmt::format("v=DMARC1; p=none; rua=mailto:postmaster@{}", domain)));
  return records;
}

nlohmann::json dkim_records(const std::string& domain, const std::vector<dkim::key_info>& keys) {
  auto out = nlohmann::json::array();
  for (auto& k : keys) {
    auto r = record(k.selector + "._domainkey." + domain, k.record);
    r["state"] = k.state;
    out.push_back(r);
  }
  return out;
}

std::string records_text(const nlohmann::json& records) {
  std::string s = "publish these DNS records:\n";
  for (auto& r : records)
    s += fmt::format("  {:<40} TXT  {}\n", r["name"].get<std::string>(), dkim::quoted_strings(r["value"].get<std::string>()));
  return s;
}

dkim::keystore keys_of(const config::config& c) { return dkim::keystore(c.data_dir / "dkim"); }

std::string now_text() { return base::rfc3339(base::real_clock().now()); }

delivery::resolver resolver_of(const config::config& c) { return delivery::resolver(c.delivery.resolvers); }

// Is a record starting with `prefix` (and containing `needle`) published at `name`?
std::string published(const delivery::resolver& r, const std::string& name, std::string_view prefix,
                      std::string_view needle = {}) {
  auto found = r.txt(name);
  if (!found) return "unknown (DNS lookup failed)";
  for (auto& t : *found) {
    std::string compact;
    for (char ch : t)
      if (ch != ' ' && ch != '\t') compact += ch;
    if (base::istarts_with(t, prefix) && (needle.empty() || compact.find(needle) != std::string::npos)) return "found";
  }
  return "missing";
}

std::string p_value(const std::string& record) {
  auto at = record.find("p=");
  return at == std::string::npos ? std::string{} : "p=" + record.substr(at + 2);
}

policy::identity_spec require_domain_identity(store::stores& s, const store::account& a, const std::string& text) {
  auto parsed = policy::parse_identity(text);
  if (auto* err = std::get_if<std::string>(&parsed)) throw failure(fmt::format("identity \"{}\" {}", text, *err));
  auto spec = std::get<policy::identity_spec>(parsed);
  if (spec.kind != store::identity_kind::domain) throw failure(text + " is an address; DKIM keys belong to domains");
  for (auto& i : s.accounts->list_identities(a.id))
    if (i.value == spec.value) return spec;
  throw failure(fmt::format("account \"{}\" has no identity {}", a.name, spec.value));
}

policy::identity_spec require_identity(const std::string& text) {
  auto parsed = policy::parse_identity(text);
  if (auto* err = std::get_if<std::string>(&parsed))
    throw failure(fmt::format("identity \"{}\" {}", text, *err));
  return std::get<policy::identity_spec>(parsed);
}

}  // namespace

void add_identity(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("identity", "the domains and addresses an account may send as");
  group->require_subcommand(1);

  auto* add = group->add_subcommand("add", "let ACCOUNT send as IDENTITY (a domain, or one address)");
  auto account = std::make_shared<std::string>();
  auto ident = std::make_shared<std::string>();
  add->add_option("ACCOUNT", *account, "account name")->required();
  add->add_option("IDENTITY", *ident, "example.com (every address at it) or alice@example.com")->required();
  add->callback([&ctx, account, ident] {
    auto spec = require_identity(*ident);
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto a = require_account(*s.accounts, *account);
    if (!s.accounts->add_identity(a.id, spec.value, spec.kind))
      throw failure(fmt::format("account \"{}\" already has the identity {}", a.name, spec.value));
    auto records = dns_records(spec, c);
    if (spec.kind == store::identity_kind::domain) {
      auto ks = keys_of(c);
      for (auto& r : dkim_records(spec.value, ks.ensure(spec.value, now_text()))) records.push_back(r);
    }
    ctx.print({{"identity", spec.value}, {"kind", spec.kind == store::identity_kind::domain ? "domain" : "address"},
               {"account", a.name}, {"dns_records", records}},
              fmt::format("{} may now send as {}\n", a.name, spec.value) + records_text(records));
  });

  auto* list = group->add_subcommand("list", "list an account's identities");
  auto list_account = std::make_shared<std::string>();
  list->add_option("ACCOUNT", *list_account, "account name")->required();
  list->callback([&ctx, list_account] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto a = require_account(*s.accounts, *list_account);
    auto j = nlohmann::json::array();
    std::string text;
    auto ks = keys_of(c);
    auto r = resolver_of(c);
    for (auto& i : s.accounts->list_identities(a.id)) {
      const char* kind = i.kind == store::identity_kind::domain ? "domain" : "address";
      nlohmann::json entry{{"identity", i.value}, {"kind", kind}, {"created", base::rfc3339(i.created)}, {"dkim", nullptr}};
      std::string dkim_text;
      if (i.kind == store::identity_kind::domain) {
        // The signing keys' records: all found, or which are missing.
        std::string state = "no keys";
        for (auto& k : ks.list(i.value)) {
          if (k.state != "active") continue;
          auto found = published(r, k.selector + "._domainkey." + i.value, "v=DKIM1", p_value(k.record));
          state = state == "no keys" || state == "found" ? found : state;
        }
        entry["dkim"] = state == "found" ? "records found" : state == "no keys" ? "no keys" : "records " + state;
        dkim_text = "  DKIM " + entry["dkim"].get<std::string>();
      }
      j.push_back(entry);
      text += fmt::format("{:<40} {}{}\n", i.value, kind, dkim_text);
    }
    if (j.empty()) text = "no identities (smtpsd identity add ACCOUNT example.com)\n";
    ctx.print(j, text);
  });

  auto* rotate = group->add_subcommand("rotate-dkim", "make the next DKIM key pair of DOMAIN (used once verified)");
  auto ro_account = std::make_shared<std::string>();
  auto ro_domain = std::make_shared<std::string>();
  rotate->add_option("ACCOUNT", *ro_account, "account name")->required();
  rotate->add_option("DOMAIN", *ro_domain, "a domain identity of the account")->required();
  rotate->callback([&ctx, ro_account, ro_domain] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto a = require_account(*s.accounts, *ro_account);
    auto spec = require_domain_identity(s, a, *ro_domain);
    auto ks = keys_of(c);
    if (ks.list(spec.value).empty()) ks.ensure(spec.value, now_text());
    auto records = dkim_records(spec.value, ks.rotate(spec.value, now_text()));
    ctx.print({{"identity", spec.value}, {"dns_records", records}},
              "new DKIM keys for " + spec.value + "; signing switches to them once `smtpsd identity verify " + a.name +
                  " " + spec.value + "` finds them in DNS\n" + records_text(records));
  });

  auto* verify = group->add_subcommand("verify", "look up DOMAIN's DKIM, SPF and DMARC records; activate verified new keys");
  auto ve_account = std::make_shared<std::string>();
  auto ve_domain = std::make_shared<std::string>();
  verify->add_option("ACCOUNT", *ve_account, "account name")->required();
  verify->add_option("DOMAIN", *ve_domain, "a domain identity of the account")->required();
  verify->callback([&ctx, ve_account, ve_domain] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto a = require_account(*s.accounts, *ve_account);
    auto spec = require_domain_identity(s, a, *ve_domain);
    auto ks = keys_of(c);
    auto r = resolver_of(c);
    auto dkim = nlohmann::json::array();
    std::string text;
    bool pending = false, pending_found = true;
    for (auto& k : ks.list(spec.value)) {
      const auto name = k.selector + "._domainkey." + spec.value;
      auto found = published(r, name, "v=DKIM1", p_value(k.record));
      dkim.push_back({{"name", name}, {"state", k.state}, {"dns", found}});
      text += fmt::format("  DKIM {:<44} {:<10} {}\n", name, k.state, found);
      if (k.state == "pending") {
        pending = true;
        pending_found = pending_found && found == "found";
      }
    }
    auto spf = published(r, spec.value, "v=spf1");
    auto dmarc = published(r, "_dmarc." + spec.value, "v=DMARC1");
    text += fmt::format("  SPF  {:<44} {}\n  DMARC {:<43} {}\n", spec.value, spf, "_dmarc." + spec.value, dmarc);
    bool activated = false;
    if (pending && pending_found) {
      ks.activate_pending(spec.value);
      activated = true;
      text += "the new keys are published: signing uses them now; the old ones stay listed until "
              "`smtpsd identity retire-dkim " + a.name + " " + spec.value + "`\n";
    } else if (pending) {
      text += "the new keys are not all published yet; signing stays with the current ones\n";
    }
    ctx.print({{"identity", spec.value}, {"dkim", dkim}, {"spf", spf}, {"dmarc", dmarc}, {"activated", activated}},
              spec.value + ":\n" + text);
  });

  auto* retire = group->add_subcommand("retire-dkim", "forget DOMAIN's DKIM keys replaced by a rotation");
  auto re_account = std::make_shared<std::string>();
  auto re_domain = std::make_shared<std::string>();
  retire->add_option("ACCOUNT", *re_account, "account name")->required();
  retire->add_option("DOMAIN", *re_domain, "a domain identity of the account")->required();
  retire->callback([&ctx, re_account, re_domain] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto a = require_account(*s.accounts, *re_account);
    auto spec = require_domain_identity(s, a, *re_domain);
    auto n = keys_of(c).retire(spec.value);
    ctx.print({{"identity", spec.value}, {"retired", n}},
              fmt::format("retired {} old DKIM keys of {}; their DNS records may go\n", n, spec.value));
  });

  auto* remove = group->add_subcommand("remove", "stop ACCOUNT sending as IDENTITY");
  auto rm_account = std::make_shared<std::string>();
  auto rm_ident = std::make_shared<std::string>();
  remove->add_option("ACCOUNT", *rm_account, "account name")->required();
  remove->add_option("IDENTITY", *rm_ident, "the identity")->required();
  remove->callback([&ctx, rm_account, rm_ident] {
    auto spec = require_identity(*rm_ident);
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto a = require_account(*s.accounts, *rm_account);
    if (!s.accounts->remove_identity(a.id, spec.value))
      throw failure(fmt::format("account \"{}\" has no identity {}", a.name, spec.value));
    ctx.print({{"removed", spec.value}}, "removed " + spec.value + "\n");
  });
}

}  // namespace smtpsd::cli
