#include <fmt/format.h>

#include "cli/cli.hpp"
#include "service/accounts.hpp"

namespace smtpsd::cli {

namespace {

void add_change_options(CLI::App* cmd, service::account_changes& o, bool with_suspended) {
  cmd->add_option("--max-send-rate", o.max_send_rate, "recipients per second (\"default\": the configured default)");
  cmd->add_option("--max-24h", o.max_24h, "recipients per rolling 24 hours (\"default\": the configured default)");
  cmd->add_option("--max-message-bytes", o.max_message_bytes, "largest message in octets (\"default\": the configured limit)");
  cmd->add_option("--configuration-set", o.configuration_set,
                  "configuration set for messages that name none (\"none\" clears it)");
  cmd->add_option("--sandbox", o.sandbox,
                  "true or false: only to its own identities and allowed recipients, 1/s, 200 per 24 hours");
  if (with_suspended) cmd->add_option("--suspended", o.suspended, "true or false: refuse the account's logins");
}

std::string account_text(const nlohmann::json& a) {
  const bool sandbox = a["sandbox"].get<bool>();
  auto src = [&](const char* key) {
    if (sandbox && std::string_view(key) != "max_message_bytes") return " (sandbox)";
    return a["own_limits"][key].get<bool>() ? "" : " (default)";
  };
  const auto& r = a["reputation"];
  std::string allowed;
  for (auto& x : a["allowed_recipients"]) allowed += (allowed.empty() ? "" : ", ") + x.get<std::string>();
  return fmt::format(
      "account {}\n  sent last 24 hours {}\n  max send rate      {}/s{}\n  max 24 hours       {}{}\n"
      "  max message bytes  {}{}\n  suspended          {}\n  sandbox            {}{}\n  sending            {}\n"
      "  reputation         {}: {} recipients, bounce rate {:.2f} %, complaint rate {:.3f} %{}\n"
      "  configuration set  {}\n  created            {}\n",
      a["name"].get<std::string>(), a["sent_last_24h"].dump(), a["max_send_rate"].dump(), src("max_send_rate"),
      a["max_24h"].dump(), src("max_24h"), a["max_message_bytes"].dump(), src("max_message_bytes"),
      a["suspended"].get<bool>() ? "yes" : "no", sandbox ? "yes" : "no",
      allowed.empty() ? "" : " (also to " + allowed + ")",
      a["paused"].is_null() ? "active" : "PAUSED: " + a["paused"].get<std::string>() + " (smtpsd account resume NAME)",
      r["status"].get<std::string>(), r["recipients"].dump(), r["bounce_rate"].get<double>() * 100,
      r["complaint_rate"].get<double>() * 100,
      r["warning"].is_null() ? "" : "; warning: " + r["warning"].get<std::string>(),
      a["configuration_set"].is_null() ? "-" : a["configuration_set"].get<std::string>(), a["created"].get<std::string>());
}

}  // namespace

void add_account(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("account", "accounts: senders with their limits");
  group->require_subcommand(1);

  auto* add = group->add_subcommand("add", "create an account");
  auto name = std::make_shared<std::string>();
  auto opts = std::make_shared<service::account_changes>();
  add->add_option("NAME", *name, "account name")->required();
  add_change_options(add, *opts, false);
  add->callback([&ctx, name, opts] {
    auto a = ctx.with_service([&](service::env& e) { return service::add_account(e, *name, *opts); });
    ctx.print(a, account_text(a));
  });

  auto* list = group->add_subcommand("list", "list accounts");
  list->callback([&ctx] {
    auto j = ctx.with_service([](service::env& e) { return service::list_accounts(e); });
    std::string text;
    for (auto& a : j)
      text += fmt::format("{:<24} rate {}/s  24h {}  {}\n", a["name"].get<std::string>(), a["max_send_rate"].dump(),
                          a["max_24h"].dump(),
                          a["suspended"].get<bool>() ? "SUSPENDED"
                          : !a["paused"].is_null()   ? "PAUSED"
                          : a["sandbox"].get<bool>() ? "sandbox"
                                                     : "active");
    if (j.empty()) text = "no accounts (smtpsd account add NAME creates one)\n";
    ctx.print(j, text);
  });

  auto* show = group->add_subcommand("show", "show one account");
  auto show_name = std::make_shared<std::string>();
  show->add_option("NAME", *show_name, "account name")->required();
  show->callback([&ctx, show_name] {
    auto a = ctx.with_service([&](service::env& e) { return service::show_account(e, *show_name); });
    ctx.print(a, account_text(a));
  });

  auto* set = group->add_subcommand("set", "change an account's limits, suspension or configuration set (live)");
  auto set_name = std::make_shared<std::string>();
  auto set_opts = std::make_shared<service::account_changes>();
  set->add_option("NAME", *set_name, "account name")->required();
  add_change_options(set, *set_opts, true);
  set->callback([&ctx, set_name, set_opts] {
    auto a = ctx.with_service([&](service::env& e) { return service::set_account(e, *set_name, *set_opts); });
    ctx.print(a, account_text(a));
  });

  auto* resume = group->add_subcommand("resume", "lift a pause the reputation thresholds put on an account (live)");
  auto resume_name = std::make_shared<std::string>();
  resume->add_option("NAME", *resume_name, "account name")->required();
  resume->callback([&ctx, resume_name] {
    auto a = ctx.with_service([&](service::env& e) { return service::resume_account(e, *resume_name); });
    ctx.print(a, account_text(a));
  });

  auto* allow = group->add_subcommand("allow-recipient", "let a sandboxed account send to an address outside its identities");
  auto allow_name = std::make_shared<std::string>();
  auto allow_address = std::make_shared<std::string>();
  auto allow_remove = std::make_shared<bool>(false);
  allow->add_option("NAME", *allow_name, "account name")->required();
  allow->add_option("ADDRESS", *allow_address, "recipient address")->required();
  allow->add_flag("--remove", *allow_remove, "take the address off the list again");
  allow->callback([&ctx, allow_name, allow_address, allow_remove] {
    auto a = ctx.with_service(
        [&](service::env& e) { return service::allow_recipient(e, *allow_name, *allow_address, *allow_remove); });
    ctx.print(a, account_text(a));
  });

  auto* remove = group->add_subcommand("remove", "remove an account with its credentials and identities");
  auto rm_name = std::make_shared<std::string>();
  remove->add_option("NAME", *rm_name, "account name")->required();
  remove->callback([&ctx, rm_name] {
    auto j = ctx.with_service([&](service::env& e) { return service::remove_account(e, *rm_name); });
    ctx.print(j, "removed account " + *rm_name + "\n");
  });
}

void add_policy(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("policy", "what the submission policy would do");
  group->require_subcommand(1);
  auto* explain = group->add_subcommand(
      "explain", "each check a submission from A to B would meet, with its verdict and reply; sends and counts nothing");
  struct args {
    std::string account, from, to;
    std::uint64_t size = 0;
  };
  auto a = std::make_shared<args>();
  explain->add_option("ACCOUNT", a->account, "account name")->required();
  explain->add_option("--from", a->from, "envelope sender (MAIL FROM)")->required();
  explain->add_option("--to", a->to, "recipient (RCPT TO)")->required();
  explain->add_option("--size", a->size, "message size in octets (SIZE=)");
  explain->callback([&ctx, a] {
    auto j = ctx.with_service([&](service::env& e) { return service::explain_policy(e, a->account, a->from, a->to, a->size); });
    std::string text;
    for (auto& c : j["checks"])
      text += fmt::format("{:<12} {:<5} {}\n", c["check"].get<std::string>(), c["verdict"].get<std::string>(),
                          c["reply"].is_null() ? c["detail"].get<std::string>()
                                               : c["reply"].get<std::string>() + " (" + c["detail"].get<std::string>() + ")");
    text += "reply: " + j["reply"].get<std::string>() + "\n";
    ctx.print(j, text);
  });
}

}  // namespace smtpsd::cli
