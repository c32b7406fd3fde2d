#include <fmt/format.h>

#include <iostream>

#include "cli/cli.hpp"
#include "service/credentials.hpp"

namespace smtpsd::cli {

void add_credential(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("credential", "SMTP credentials of an account");
  group->require_subcommand(1);

  auto* add = group->add_subcommand("add", "create a credential; the password is shown once, only a hash is kept");
  auto account = std::make_shared<std::string>();
  auto username = std::make_shared<std::optional<std::string>>();
  auto from_stdin = std::make_shared<bool>(false);
  add->add_option("ACCOUNT", *account, "account name")->required();
  add->add_option("--username", *username, "the login name (default: generated)");
  add->add_flag("--password-stdin", *from_stdin, "read the password from one line of stdin");
  add->callback([&ctx, account, username, from_stdin] {
    std::optional<base::secret_string> password;
    if (*from_stdin) {
      std::string line;
      if (!std::getline(std::cin, line)) throw failure("--password-stdin: no line on stdin");
      if (!line.empty() && line.back() == '\r') line.pop_back();
      password = base::secret_string(std::move(line));
    }
    auto j = ctx.with_service([&](service::env& e) { return service::add_credential(e, *account, *username, password); });
    std::string text = fmt::format("username  {}\n", j["username"].get<std::string>());
    if (!j["password"].is_null())
      text += fmt::format("password  {}\n(shown once: only a hash is stored)\n", j["password"].get<std::string>());
    ctx.print(j, text);
  });

  auto* list = group->add_subcommand("list", "list an account's credentials (never the passwords)");
  auto list_account = std::make_shared<std::string>();
  list->add_option("ACCOUNT", *list_account, "account name")->required();
  list->callback([&ctx, list_account] {
    auto j = ctx.with_service([&](service::env& e) { return service::list_credentials(e, *list_account); });
    std::string text;
    for (auto& c : j)
      text += fmt::format("{}  created {}\n", c["username"].get<std::string>(), c["created"].get<std::string>());
    if (j.empty()) text = "no credentials\n";
    ctx.print(j, text);
  });

  auto* revoke = group->add_subcommand("revoke", "delete a credential (live: its sessions cannot log in again)");
  auto user = std::make_shared<std::string>();
  revoke->add_option("USERNAME", *user, "the login name")->required();
  revoke->callback([&ctx, user] {
    auto j = ctx.with_service([&](service::env& e) { return service::revoke_credential(e, *user); });
    ctx.print(j, "revoked " + *user + "\n");
  });
}

}  // namespace smtpsd::cli
