#include <fmt/format.h>

#include <sstream>

#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "cli/cli.hpp"
#include "policy/submission_policy.hpp"

namespace smtpsd::cli {

namespace {

struct limit_options {
  std::optional<std::string> rate, day, size, suspended, configuration_set;
};

void add_limit_options(CLI::App* cmd, limit_options& o, bool with_suspended) {
  cmd->add_option("--max-send-rate", o.rate, "recipients per second (\"default\": the configured default)");
  cmd->add_option("--max-24h", o.day, "recipients per rolling 24 hours (\"default\": the configured default)");
  cmd->add_option("--max-message-bytes", o.size, "largest message in octets (\"default\": the configured limit)");
  cmd->add_option("--configuration-set", o.configuration_set,
                  "configuration set for messages that name none (\"none\" clears it)");
  if (with_suspended) cmd->add_option("--suspended", o.suspended, "true or false: refuse the account's logins");
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
    throw failure(fmt::format("{} must be {} between {} and {} (or \"default\"), got \"{}\"", flag,
                              std::is_integral_v<T> ? "a whole number" : "a number", min, max, *text));
  target = static_cast<T>(v);
}

void apply(const limit_options& o, store::account& a, const config::config& c) {
  apply_number(o.rate, a.max_send_rate, "--max-send-rate", 0.001, 1e6);
  apply_number(o.day, a.max_24h, "--max-24h", 1, 1e12);
  apply_number(o.size, a.max_message_bytes, "--max-message-bytes", 1024, 1099511627776.0);
  if (o.suspended) {
    if (*o.suspended == "true")
      a.suspended = true;
    else if (*o.suspended == "false")
      a.suspended = false;
    else
      throw failure("--suspended must be true or false, got \"" + *o.suspended + "\"");
  }
  if (o.configuration_set) {
    if (*o.configuration_set == "none" || o.configuration_set->empty()) {
      a.configuration_set.clear();
    } else {
      bool known = false;
      for (auto& set : c.configuration_sets) known = known || set.name == *o.configuration_set;
      if (!known)
        throw failure(fmt::format("{}: there is no [[configuration_sets]] named \"{}\"", c.file.string(),
                                  *o.configuration_set));
      a.configuration_set = *o.configuration_set;
    }
  }
}

nlohmann::json account_json(const store::account& a, const config::config& c, store::queue_store& q) {
  return {{"name", a.name},
          {"sent_last_24h", policy::usage_24h(q, a.id, base::real_clock().now())},
          {"max_send_rate", a.max_send_rate.value_or(c.limit.default_max_send_rate)},
          {"max_24h", a.max_24h.value_or(c.limit.default_max_24h)},
          {"max_message_bytes", a.max_message_bytes.value_or(c.limit.max_message_bytes)},
          {"suspended", a.suspended},
          {"configuration_set", a.configuration_set.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.configuration_set)},
          {"created", base::rfc3339(a.created)}};
}

std::string account_text(const store::account& a, const config::config& c, store::queue_store& q) {
  auto src = [](bool own) { return own ? "" : " (default)"; };
  return fmt::format(
      "account {}\n  sent last 24 hours {}\n  max send rate      {}/s{}\n  max 24 hours       {}{}\n"
      "  max message bytes  {}{}\n  suspended          {}\n  configuration set  {}\n  created            {}\n",
      a.name, policy::usage_24h(q, a.id, base::real_clock().now()), a.max_send_rate.value_or(c.limit.default_max_send_rate),
      src(a.max_send_rate.has_value()),
      a.max_24h.value_or(c.limit.default_max_24h), src(a.max_24h.has_value()),
      a.max_message_bytes.value_or(c.limit.max_message_bytes), src(a.max_message_bytes.has_value()),
      a.suspended ? "yes" : "no", a.configuration_set.empty() ? "-" : a.configuration_set, base::rfc3339(a.created));
}

}  // namespace

void add_account(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("account", "accounts: senders with their limits");
  group->require_subcommand(1);

  auto* add = group->add_subcommand("add", "create an account");
  auto name = std::make_shared<std::string>();
  auto opts = std::make_shared<limit_options>();
  add->add_option("NAME", *name, "account name")->required();
  add_limit_options(add, *opts, false);
  add->callback([&ctx, name, opts] {
    validate_account_name(*name);
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    store::account a;
    a.name = *name;
    a.created = base::from_unix_seconds(base::unix_seconds(base::real_clock().now()));
    apply(*opts, a, c);
    auto created = s.accounts->create_account(a);
    if (!created) throw failure("an account named \"" + *name + "\" already exists");
    ctx.print(account_json(*created, c, *s.queue), account_text(*created, c, *s.queue));
  });

  auto* list = group->add_subcommand("list", "list accounts");
  list->callback([&ctx] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto j = nlohmann::json::array();
    std::string text;
    for (auto& a : s.accounts->list_accounts()) {
      j.push_back(account_json(a, c, *s.queue));
      text += fmt::format("{:<24} rate {}/s  24h {}  {}\n", a.name, a.max_send_rate.value_or(c.limit.default_max_send_rate),
                          a.max_24h.value_or(c.limit.default_max_24h), a.suspended ? "SUSPENDED" : "active");
    }
    if (j.empty()) text = "no accounts (smtpsd account add NAME creates one)\n";
    ctx.print(j, text);
  });

  auto* show = group->add_subcommand("show", "show one account");
  auto show_name = std::make_shared<std::string>();
  show->add_option("NAME", *show_name, "account name")->required();
  show->callback([&ctx, show_name] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto a = require_account(*s.accounts, *show_name);
    ctx.print(account_json(a, c, *s.queue), account_text(a, c, *s.queue));
  });

  auto* set = group->add_subcommand("set", "change an account's limits or suspension (live)");
  auto set_name = std::make_shared<std::string>();
  auto set_opts = std::make_shared<limit_options>();
  set->add_option("NAME", *set_name, "account name")->required();
  add_limit_options(set, *set_opts, true);
  set->callback([&ctx, set_name, set_opts] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto a = require_account(*s.accounts, *set_name);
    apply(*set_opts, a, c);
    if (!s.accounts->update_account(a)) throw failure("account \"" + *set_name + "\" was removed meanwhile");
    ctx.print(account_json(a, c, *s.queue), account_text(a, c, *s.queue));
  });

  auto* remove = group->add_subcommand("remove", "remove an account with its credentials and identities");
  auto rm_name = std::make_shared<std::string>();
  remove->add_option("NAME", *rm_name, "account name")->required();
  remove->callback([&ctx, rm_name] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    if (!s.accounts->remove_account(*rm_name)) throw failure("no account named \"" + *rm_name + "\"");
    ctx.print({{"removed", *rm_name}}, "removed account " + *rm_name + "\n");
  });
}

}  // namespace smtpsd::cli
