#include <fmt/format.h>

#include "cli/cli.hpp"
#include "service/tokens.hpp"

namespace smtpsd::cli {

void add_token(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("token", "tokens of the HTTP API and the dashboard");
  group->require_subcommand(1);

  auto* add = group->add_subcommand("add", "make a token; it is shown once, only a hash is kept");
  auto name = std::make_shared<std::string>();
  auto read_only = std::make_shared<bool>(false);
  add->add_option("NAME", *name, "what the token is for")->required();
  add->add_flag("--read-only", *read_only, "the token may only read (GET)");
  add->callback([&ctx, name, read_only] {
    auto j = ctx.with_service([&](service::env& e) { return service::add_token(e, *name, *read_only); });
    ctx.print(j, fmt::format("token {}{}\n  {}\n(shown once: only a hash is stored; send it as "
                             "\"Authorization: Bearer TOKEN\")\n",
                             *name, *read_only ? " (read-only)" : "", j["token"].get<std::string>()));
  });

  auto* list = group->add_subcommand("list", "list tokens (never the tokens themselves)");
  list->callback([&ctx] {
    auto j = ctx.with_service([](service::env& e) { return service::list_tokens(e); });
    std::string text;
    for (auto& t : j)
      text += fmt::format("{:<24} {}  created {}\n", t["name"].get<std::string>(),
                          t["read_only"].get<bool>() ? "read-only " : "read-write", t["created"].get<std::string>());
    if (j.empty()) text = "no tokens (smtpsd token add NAME)\n";
    ctx.print(j, text);
  });

  auto* revoke = group->add_subcommand("revoke", "delete a token (live: the API refuses it from the next request)");
  auto rv = std::make_shared<std::string>();
  revoke->add_option("NAME", *rv, "the token's name")->required();
  revoke->callback([&ctx, rv] {
    auto j = ctx.with_service([&](service::env& e) { return service::revoke_token(e, *rv); });
    ctx.print(j, "revoked " + *rv + "\n");
  });
}

}  // namespace smtpsd::cli
