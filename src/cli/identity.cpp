#include <fmt/format.h>

#include "cli/cli.hpp"
#include "dkim/keystore.hpp"
#include "service/identities.hpp"

namespace smtpsd::cli {

namespace {

std::string records_text(const nlohmann::json& records) {
  std::string s = "publish these DNS records:\n";
  for (auto& r : records) {
    const auto type = r["type"].get<std::string>();
    const auto value = r["value"].get<std::string>();
    s += fmt::format("  {:<40} {:<4} {}\n", r["name"].get<std::string>(), type,
                     type == "TXT" ? dkim::quoted_strings(value) : value);
  }
  return s;
}

// ACCOUNT and IDENTITY (or DOMAIN) arguments of a subcommand.
struct pair_args {
  std::string account, identity;
};
std::shared_ptr<pair_args> two_args(CLI::App* cmd, const char* second, const char* help) {
  auto a = std::make_shared<pair_args>();
  cmd->add_option("ACCOUNT", a->account, "account name")->required();
  cmd->add_option(second, a->identity, help)->required();
  return a;
}

}  // namespace

void add_identity(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("identity", "the domains and addresses an account may send as");
  group->require_subcommand(1);

  auto* add = group->add_subcommand("add", "let ACCOUNT send as IDENTITY (a domain, or one address)");
  auto add_args = two_args(add, "IDENTITY", "example.com (every address at it) or alice@example.com");
  add->callback([&ctx, add_args] {
    auto j = ctx.with_service([&](service::env& e) { return service::add_identity(e, add_args->account, add_args->identity); });
    ctx.print(j, fmt::format("{} may now send as {}\n", j["account"].get<std::string>(), j["identity"].get<std::string>()) +
                     records_text(j["dns_records"]));
  });

  auto* list = group->add_subcommand("list", "list an account's identities (and whether their DKIM records are published)");
  auto list_account = std::make_shared<std::string>();
  list->add_option("ACCOUNT", *list_account, "account name")->required();
  list->callback([&ctx, list_account] {
    auto j = ctx.with_service([&](service::env& e) { return service::list_identities(e, *list_account, true); });
    std::string text;
    for (auto& i : j)
      text += fmt::format("{:<40} {}{}\n", i["identity"].get<std::string>(), i["kind"].get<std::string>(),
                          i["dkim"].is_null() ? "" : "  DKIM " + i["dkim"].get<std::string>());
    if (j.empty()) text = "no identities (smtpsd identity add ACCOUNT example.com)\n";
    ctx.print(j, text);
  });

  auto* rotate = group->add_subcommand("rotate-dkim", "make the next DKIM key pair of DOMAIN (used once verified)");
  auto ro = two_args(rotate, "DOMAIN", "a domain identity of the account");
  rotate->callback([&ctx, ro] {
    auto j = ctx.with_service([&](service::env& e) { return service::rotate_dkim(e, ro->account, ro->identity); });
    const auto domain = j["identity"].get<std::string>();
    ctx.print(j, "new DKIM keys for " + domain + "; signing switches to them once `smtpsd identity verify " +
                     ro->account + " " + domain + "` finds them in DNS\n" + records_text(j["dns_records"]));
  });

  auto* verify = group->add_subcommand("verify", "look up DOMAIN's DKIM, SPF and DMARC records; activate verified new keys");
  auto ve = two_args(verify, "DOMAIN", "a domain identity of the account");
  verify->callback([&ctx, ve] {
    auto j = ctx.with_service([&](service::env& e) { return service::verify_identity(e, ve->account, ve->identity); });
    const auto domain = j["identity"].get<std::string>();
    std::string text = domain + ":\n";
    for (auto& d : j["dkim"])
      text += fmt::format("  DKIM {:<44} {:<10} {}\n", d["name"].get<std::string>(), d["state"].get<std::string>(),
                          d["dns"].get<std::string>());
    text += fmt::format("  SPF  {:<44} {}\n  DMARC {:<43} {}\n", domain, j["spf"].get<std::string>(), "_dmarc." + domain,
                        j["dmarc"].get<std::string>());
    if (j["activated"].get<bool>())
      text += "the new keys are published: signing uses them now; the old ones stay listed until "
              "`smtpsd identity retire-dkim " + ve->account + " " + domain + "`\n";
    else if (j["pending"].get<bool>())
      text += "the new keys are not all published yet; signing stays with the current ones\n";
    ctx.print(j, text);
  });

  auto* retire = group->add_subcommand("retire-dkim", "forget DOMAIN's DKIM keys replaced by a rotation");
  auto re = two_args(retire, "DOMAIN", "a domain identity of the account");
  retire->callback([&ctx, re] {
    auto j = ctx.with_service([&](service::env& e) { return service::retire_dkim(e, re->account, re->identity); });
    ctx.print(j, fmt::format("retired {} old DKIM keys of {}; their DNS records may go\n", j["retired"].dump(),
                             j["identity"].get<std::string>()));
  });

  auto* remove = group->add_subcommand("remove", "stop ACCOUNT sending as IDENTITY");
  auto rm = two_args(remove, "IDENTITY", "the identity");
  remove->callback([&ctx, rm] {
    auto j = ctx.with_service([&](service::env& e) { return service::remove_identity(e, rm->account, rm->identity); });
    ctx.print(j, "removed " + j["removed"].get<std::string>() + "\n");
  });
}

}  // namespace smtpsd::cli
