#include <fmt/format.h>

#include "base/time_format.hpp"
#include "cli/cli.hpp"
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

std::string records_text(const nlohmann::json& records) {
  std::string s = "publish these DNS records:\n";
  for (auto& r : records)
    s += fmt::format("  {:<40} TXT  \"{}\"\n", r["name"].get<std::string>(), r["value"].get<std::string>());
  return s;
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
    ctx.print({{"identity", spec.value}, {"dns_records", records}},
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
    for (auto& i : s.accounts->list_identities(a.id)) {
      const char* kind = i.kind == store::identity_kind::domain ? "domain" : "address";
      j.push_back({{"identity", i.value}, {"kind", kind}, {"created", base::rfc3339(i.created)}});
      text += fmt::format("{:<40} {}\n", i.value, kind);
    }
    if (j.empty()) text = "no identities (smtpsd identity add ACCOUNT example.com)\n";
    ctx.print(j, text);
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
