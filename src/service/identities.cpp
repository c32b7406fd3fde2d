#include "service/identities.hpp"

#include <fmt/format.h>

#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "delivery/resolver.hpp"
#include "dkim/keystore.hpp"
#include "service/dkim_keys.hpp"
#include "policy/identity.hpp"
#include "service/accounts.hpp"

namespace smtpsd::service {

namespace {

json record(std::string name, std::string value) {
  return {{"name", std::move(name)}, {"type", "TXT"}, {"value", std::move(value)}};
}

std::string domain_part(const policy::identity_spec& id) {
  return std::string(id.kind == store::identity_kind::domain ? id.value : policy::domain_of(id.value));
}

// The records to publish: SPF and DMARC recommendations for the domain,
// and the DKIM records of its keys.
json dns_records(env& e, const policy::identity_spec& id, const std::vector<dkim::key_info>& keys) {
  const auto domain = domain_part(id);
  auto records = json::array();
  records.push_back(record(domain, fmt::format("v=spf1 a:{} ~all", e.cfg.hostname)));
  records.push_back(record("_dmarc." + domain, fmt::format("v=DMARC1; p=none; rua=mailto:postmaster@{}", domain)));
  for (auto& k : keys) {
    auto r = record(k.selector + "._domainkey." + domain, k.record);
    r["state"] = k.state;
    records.push_back(r);
  }
  // The return path (SPEC §9), like SES's custom MAIL FROM domain: bounces
  // come back to the inbound listener, and the VERP senders pass SPF.
  if (const auto& b = e.cfg.bounces.domain; !b.empty()) {
    records.push_back({{"name", b}, {"type", "MX"}, {"value", fmt::format("10 {}", e.cfg.hostname)}});
    records.push_back(record(b, fmt::format("v=spf1 a:{} ~all", e.cfg.hostname)));
  }
  return records;
}

dkim::keystore keys_of(env& e) { return dkim::keystore(dkim_files(e.cfg, e.stores)); }
std::string now_text(env& e) { return base::rfc3339(e.clock.now()); }
delivery::resolver resolver_of(env& e) { return delivery::resolver(e.cfg.delivery.resolvers); }

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

policy::identity_spec parse(const std::string& text) {
  auto parsed = policy::parse_identity(text);
  if (auto* err = std::get_if<std::string>(&parsed)) invalid(fmt::format("identity \"{}\" {}", text, *err));
  return std::get<policy::identity_spec>(parsed);
}

const char* kind_name(store::identity_kind k) { return k == store::identity_kind::domain ? "domain" : "address"; }

// An identity the account has.
policy::identity_spec require_identity(env& e, const store::account& a, const std::string& text, bool domain_only) {
  auto spec = parse(text);
  if (domain_only && spec.kind != store::identity_kind::domain) invalid(text + " is an address; DKIM keys belong to domains");
  for (auto& i : e.stores.accounts->list_identities(a.id))
    if (i.value == spec.value) return spec;
  not_found(fmt::format("account \"{}\" has no identity {}", a.name, spec.value));
}

std::vector<dkim::key_info> keys_for(env& e, const policy::identity_spec& spec) {
  if (spec.kind != store::identity_kind::domain) return {};
  return keys_of(e).list(spec.value);
}

}  // namespace

json add_identity(env& e, const std::string& account, const std::string& identity) {
  auto spec = parse(identity);
  auto a = require_account(e, account);
  if (!e.stores.accounts->add_identity(a.id, spec.value, spec.kind))
    conflict(fmt::format("account \"{}\" already has the identity {}", a.name, spec.value));
  std::vector<dkim::key_info> keys;
  if (spec.kind == store::identity_kind::domain) keys = keys_of(e).ensure(spec.value, now_text(e));
  return {{"identity", spec.value}, {"kind", kind_name(spec.kind)}, {"account", a.name},
          {"dns_records", dns_records(e, spec, keys)}};
}

json show_identity(env& e, const std::string& account, const std::string& identity) {
  auto a = require_account(e, account);
  auto spec = require_identity(e, a, identity, false);
  return {{"identity", spec.value}, {"kind", kind_name(spec.kind)}, {"account", a.name},
          {"dns_records", dns_records(e, spec, keys_for(e, spec))}};
}

json list_identities(env& e, const std::string& account, bool check_dns) {
  auto a = require_account(e, account);
  auto out = json::array();
  auto ks = keys_of(e);
  std::optional<delivery::resolver> r;
  if (check_dns) r.emplace(resolver_of(e));
  for (auto& i : e.stores.accounts->list_identities(a.id)) {
    json entry{{"identity", i.value}, {"kind", kind_name(i.kind)}, {"created", base::rfc3339(i.created)}, {"dkim", nullptr}};
    if (i.kind == store::identity_kind::domain) {
      auto keys = ks.list(i.value);
      std::string state = "no keys";
      for (auto& k : keys) {
        if (!r) {
          state = k.state == "pending" ? "new keys pending" : state == "no keys" ? "active keys" : state;
          continue;
        }
        if (k.state != "active") continue;
        auto found = published(*r, k.selector + "._domainkey." + i.value, "v=DKIM1", p_value(k.record));
        state = state == "no keys" || state == "found" ? found : state;
      }
      if (r) state = state == "found" ? "records found" : state == "no keys" ? "no keys" : "records " + state;
      entry["dkim"] = state;
    }
    out.push_back(entry);
  }
  return out;
}

json rotate_dkim(env& e, const std::string& account, const std::string& domain) {
  auto a = require_account(e, account);
  auto spec = require_identity(e, a, domain, true);
  auto ks = keys_of(e);
  if (ks.list(spec.value).empty()) ks.ensure(spec.value, now_text(e));
  auto keys = ks.rotate(spec.value, now_text(e));
  auto records = json::array();
  for (auto& r : dns_records(e, spec, keys))
    if (r.contains("state")) records.push_back(r);
  return {{"identity", spec.value}, {"account", a.name}, {"dns_records", records}};
}

json verify_identity(env& e, const std::string& account, const std::string& domain) {
  auto a = require_account(e, account);
  auto spec = require_identity(e, a, domain, true);
  auto ks = keys_of(e);
  auto r = resolver_of(e);
  auto dkim = json::array();
  bool pending = false, pending_found = true;
  for (auto& k : ks.list(spec.value)) {
    const auto name = k.selector + "._domainkey." + spec.value;
    auto found = published(r, name, "v=DKIM1", p_value(k.record));
    dkim.push_back({{"name", name}, {"state", k.state}, {"dns", found}});
    if (k.state == "pending") {
      pending = true;
      pending_found = pending_found && found == "found";
    }
  }
  const bool activate = pending && pending_found;
  if (activate) ks.activate_pending(spec.value);
  return {{"identity", spec.value},
          {"account", a.name},
          {"dkim", dkim},
          {"spf", published(r, spec.value, "v=spf1")},
          {"dmarc", published(r, "_dmarc." + spec.value, "v=DMARC1")},
          {"pending", pending},
          {"activated", activate}};
}

json retire_dkim(env& e, const std::string& account, const std::string& domain) {
  auto a = require_account(e, account);
  auto spec = require_identity(e, a, domain, true);
  return {{"identity", spec.value}, {"account", a.name}, {"retired", keys_of(e).retire(spec.value)}};
}

json remove_identity(env& e, const std::string& account, const std::string& identity) {
  auto spec = parse(identity);
  auto a = require_account(e, account);
  if (!e.stores.accounts->remove_identity(a.id, spec.value))
    not_found(fmt::format("account \"{}\" has no identity {}", a.name, spec.value));
  return {{"removed", spec.value}};
}

}  // namespace smtpsd::service
