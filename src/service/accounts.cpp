#include "service/accounts.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "base/time_format.hpp"
#include "base/strings.hpp"
#include "policy/identity.hpp"
#include "policy/submission_policy.hpp"

namespace smtpsd::service {

namespace {

// The command-line flag of a field: max_send_rate -> max-send-rate.
std::string dashed(std::string s) {
  for (auto& c : s) c = c == '_' ? '-' : c;
  return s;
}

template <class T>
void apply_number(const std::optional<std::string>& text, std::optional<T>& target, const char* flag, double min,
                  double max) {
  if (!text) return;
  if (*text == "default") {
    target.reset();
    return;
  }
  std::istringstream in(*text);
  double v;
  if (!(in >> v) || !in.eof() || !(v >= min && v <= max) ||
      (std::is_integral_v<T> && static_cast<double>(static_cast<std::uint64_t>(v)) != v))
    invalid(fmt::format("{} (--{}) must be {} between {} and {} (or \"default\"), got \"{}\"", flag, dashed(flag),
                        std::is_integral_v<T> ? "a whole number" : "a number", min, max, *text));
  target = static_cast<T>(v);
}

void apply(env& e, const account_changes& c, store::account& a) {
  apply_number(c.max_send_rate, a.max_send_rate, "max_send_rate", 0.001, 1e6);
  apply_number(c.max_24h, a.max_24h, "max_24h", 1, 1e12);
  apply_number(c.max_message_bytes, a.max_message_bytes, "max_message_bytes", 1024, 1099511627776.0);
  if (c.suspended) {
    if (*c.suspended != "true" && *c.suspended != "false")
      invalid("suspended (--suspended) must be true or false, got \"" + *c.suspended + "\"");
    a.suspended = *c.suspended == "true";
  }
  if (c.sandbox) {
    if (*c.sandbox != "true" && *c.sandbox != "false")
      invalid("sandbox (--sandbox) must be true or false, got \"" + *c.sandbox + "\"");
    a.sandbox = *c.sandbox == "true";
  }
  if (c.configuration_set) {
    if (*c.configuration_set == "none" || c.configuration_set->empty()) {
      a.configuration_set.clear();
    } else {
      bool known = false;
      for (auto& set : e.cfg.configuration_sets) known = known || set.name == *c.configuration_set;
      if (!known)
        invalid(fmt::format("{}: there is no [[configuration_sets]] named \"{}\"", e.cfg.file.string(),
                            *c.configuration_set));
      a.configuration_set = *c.configuration_set;
    }
  }
}

}  // namespace

void validate_account_name(const std::string& name) {
  if (name.empty() || name.size() > 64) invalid("account names are 1 to 64 characters");
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      invalid("account name \"" + name + "\" may use only letters, digits, '-', '_' and '.'");
}

store::account require_account(env& e, const std::string& name) {
  auto a = e.stores.accounts->find_account(name);
  if (!a) not_found("no account named \"" + name + "\"");
  return *a;
}

policy::reputation_thresholds reputation_thresholds(const config::reputation_settings& r) {
  return {r.bounce_warning_percent, r.bounce_pause_percent, r.complaint_warning_percent, r.complaint_pause_percent,
          r.min_recipients,         r.window_recipients,    r.window_days};
}

json account_json(env& e, const store::account& a) {
  const auto& l = e.cfg.limit;
  auto rate = a.max_send_rate.value_or(l.default_max_send_rate);
  auto max_24h = a.max_24h.value_or(l.default_max_24h);
  if (a.sandbox) {
    rate = std::min(rate, policy::sandbox_max_send_rate);
    max_24h = std::min(max_24h, policy::sandbox_max_24h);
  }
  const auto t = reputation_thresholds(e.cfg.reputation);
  const auto f = policy::account_figures(*e.stores.accounts, a, t, e.clock.now());
  auto v = policy::judge(f, t);
  if (!a.paused.empty()) v.status = policy::reputation_status::paused;
  return {{"name", a.name},
          {"max_send_rate", rate},
          {"max_24h", max_24h},
          {"sandbox", a.sandbox},
          {"allowed_recipients", a.allowed_recipients},
          {"paused", a.paused.empty() ? json(nullptr) : json(a.paused)},
          {"reputation",
           {{"status", policy::to_string(v.status)},
            {"recipients", f.recipients},
            {"bounces", f.bounces},
            {"complaints", f.complaints},
            {"bounce_rate", f.bounce_percent() / 100},
            {"complaint_rate", f.complaint_percent() / 100},
            {"warning", a.reputation_warning.empty() ? json(nullptr) : json(a.reputation_warning)}}},
          {"max_message_bytes", a.max_message_bytes.value_or(l.max_message_bytes)},
          {"suspended", a.suspended},
          {"configuration_set", a.configuration_set.empty() ? json(nullptr) : json(a.configuration_set)},
          {"sent_last_24h", policy::usage_24h(*e.stores.queue, a.id, e.clock.now())},
          {"created", base::rfc3339(a.created)},
          {"own_limits",
           {{"max_send_rate", a.max_send_rate.has_value()},
            {"max_24h", a.max_24h.has_value()},
            {"max_message_bytes", a.max_message_bytes.has_value()}}}};
}

json add_account(env& e, const std::string& name, const account_changes& c) {
  validate_account_name(name);
  store::account a;
  a.name = name;
  a.created = base::from_unix_seconds(base::unix_seconds(e.clock.now()));
  a.sandbox = e.cfg.limit.sandbox_new_accounts;
  apply(e, c, a);
  auto created = e.stores.accounts->create_account(a);
  if (!created) conflict("an account named \"" + name + "\" already exists");
  return account_json(e, *created);
}

json list_accounts(env& e) {
  auto out = json::array();
  for (auto& a : e.stores.accounts->list_accounts()) out.push_back(account_json(e, a));
  return out;
}

json show_account(env& e, const std::string& name) { return account_json(e, require_account(e, name)); }

json set_account(env& e, const std::string& name, const account_changes& c) {
  auto a = require_account(e, name);
  apply(e, c, a);
  if (!e.stores.accounts->update_account(a)) not_found("account \"" + name + "\" was removed meanwhile");
  return account_json(e, a);
}

json remove_account(env& e, const std::string& name) {
  if (!e.stores.accounts->remove_account(name)) not_found("no account named \"" + name + "\"");
  return {{"removed", name}};
}

json resume_account(env& e, const std::string& name) {
  auto a = require_account(e, name);
  a.paused.clear();
  a.reputation_warning.clear();
  a.reputation_since = e.clock.now();
  if (!e.stores.accounts->update_account(a)) not_found("account \"" + name + "\" was removed meanwhile");
  return account_json(e, a);
}

json allow_recipient(env& e, const std::string& name, const std::string& address, bool remove) {
  auto a = require_account(e, name);
  auto n = policy::normalize_address(address);
  if (!n || n->find('@') == std::string::npos) invalid("\"" + address + "\" is not an email address");
  const auto lower = base::to_lower(*n);
  auto& list = a.allowed_recipients;
  auto it = std::find(list.begin(), list.end(), lower);
  if (remove) {
    if (it == list.end()) not_found(fmt::format("{} is not an allowed recipient of {}", lower, name));
    list.erase(it);
  } else if (it == list.end()) {
    list.push_back(lower);
    std::sort(list.begin(), list.end());
  }
  if (!e.stores.accounts->update_account(a)) not_found("account \"" + name + "\" was removed meanwhile");
  return account_json(e, a);
}

json explain_policy(env& e, const std::string& account, const std::string& from, const std::string& to,
                    std::uint64_t size) {
  const auto& l = e.cfg.limit;
  policy::submission_policy p(e.stores.accounts, e.stores.suppressions, e.stores.queue, e.clock,
                              {l.default_max_send_rate, l.default_max_24h, l.max_message_bytes});
  auto checks = json::array();
  json reply = "250 2.0.0 Ok: the message would be accepted";
  bool failed = false;
  for (auto& c : p.explain(account, from, to, size)) {
    checks.push_back({{"check", c.check},
                      {"verdict", c.verdict},
                      {"detail", c.detail},
                      {"reply", c.reply ? json(c.reply->summary()) : json(nullptr)}});
    if (c.reply && !failed) {
      reply = c.reply->summary();
      failed = true;
    }
  }
  return {{"account", account}, {"from", from}, {"to", to}, {"size", size}, {"checks", checks}, {"reply", reply}};
}

json account_quota(env& e, const std::string& name) {
  auto j = show_account(e, name);
  return {{"max_24h", j["max_24h"]}, {"max_send_rate", j["max_send_rate"]}, {"sent_last_24h", j["sent_last_24h"]}};
}

}  // namespace smtpsd::service
