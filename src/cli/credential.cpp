#include <fmt/format.h>

#include <iostream>

#include "base/time_format.hpp"
#include "cli/cli.hpp"
#include "policy/authenticator.hpp"

namespace smtpsd::cli {

namespace {

void validate_username(const std::string& u) {
  if (u.empty() || u.size() > 255) throw failure("--username must be 1 to 255 characters");
  for (unsigned char c : u)
    if (c <= 32 || c == 127) throw failure("--username may not contain spaces or control characters");
}

}  // namespace

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
    std::string user = username->value_or(policy::authenticator::generate_username());
    validate_username(user);
    base::secret_string password;
    if (*from_stdin) {
      std::string line;
      if (!std::getline(std::cin, line)) throw failure("--password-stdin: no line on stdin");
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line.size() > 255) throw failure("--password-stdin: the password must be 1 to 255 characters");
      password = base::secret_string(std::move(line));
    } else {
      password = base::secret_string(policy::authenticator::generate_password());
    }
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto a = require_account(*s.accounts, *account);
    auto hash = policy::authenticator::hash_password(password.expose());
    if (!s.accounts->create_credential(a.id, user, hash)) throw failure("the username \"" + user + "\" is taken");
    nlohmann::json j = {{"username", user}, {"account", a.name}};
    j["password"] = *from_stdin ? nlohmann::json(nullptr) : nlohmann::json(password.expose());
    std::string text = fmt::format("username  {}\n", user);
    if (!*from_stdin) text += fmt::format("password  {}\n(shown once: only a hash is stored)\n", password.expose());
    ctx.print(j, text);
  });

  auto* list = group->add_subcommand("list", "list an account's credentials (never the passwords)");
  auto list_account = std::make_shared<std::string>();
  list->add_option("ACCOUNT", *list_account, "account name")->required();
  list->callback([&ctx, list_account] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto a = require_account(*s.accounts, *list_account);
    auto j = nlohmann::json::array();
    std::string text;
    for (auto& cr : s.accounts->list_credentials(a.id)) {
      j.push_back({{"username", cr.username}, {"account", a.name}, {"created", base::rfc3339(cr.created)}});
      text += fmt::format("{}  created {}\n", cr.username, base::rfc3339(cr.created));
    }
    if (j.empty()) text = "no credentials\n";
    ctx.print(j, text);
  });

  auto* revoke = group->add_subcommand("revoke", "delete a credential (live: its sessions cannot log in again)");
  auto user = std::make_shared<std::string>();
  revoke->add_option("USERNAME", *user, "the login name")->required();
  revoke->callback([&ctx, user] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    if (!s.accounts->revoke_credential(*user)) throw failure("no credential with username \"" + *user + "\"");
    ctx.print({{"revoked", *user}}, "revoked " + *user + "\n");
  });
}

}  // namespace smtpsd::cli
