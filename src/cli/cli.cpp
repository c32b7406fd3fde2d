#include "cli/cli.hpp"

#include <unistd.h>

#include <iostream>

#include "base/time_format.hpp"
#include "net/user.hpp"
#include "store/types.hpp"

namespace smtpsd::cli {

config::config context::load_config() const { return config::load(config::locate(config_path)); }

void context::become_service_user(const config::config& c) const {
  if (::geteuid() != 0 || c.user.empty()) return;
  try {
    net::switch_to_user(c.user);
  } catch (const std::runtime_error& e) {
    throw failure(c.file.string() + ": " + e.what());
  }
}

void context::print(const nlohmann::json& doc, const std::string& text) const {
  if (json)
    std::cout << doc.dump(2) << "\n";
  else
    std::cout << text;
}

int run(int argc, char** argv, backends b) {
  context ctx;
  ctx.b = std::move(b);
  CLI::App app{"smtpsd: a mail submission server and outbound relay", "smtpsd"};
  app.require_subcommand(1);
  app.fallthrough();  // -c and --json are accepted anywhere on the line
  app.set_version_flag("--version", "smtpsd 0.1.0");
  app.add_option("-c,--config", ctx.config_path,
                 "configuration file (default ./smtpsd.toml, then /etc/smtpsd/smtpsd.toml)");
  app.add_flag("--json", ctx.json, "print one JSON document on stdout");

  add_init(app, ctx);
  add_serve(app, ctx);
  add_account(app, ctx);
  add_policy(app, ctx);
  add_credential(app, ctx);
  add_identity(app, ctx);
  add_suppression(app, ctx);
  add_queue(app, ctx);
  add_send(app, ctx);
  add_probe(app, ctx);
  add_events(app, ctx);
  add_token(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const service::error& e) {
    std::cerr << "smtpsd: " << e.what() << "\n";
    return 1;
  } catch (const failure& e) {
    std::cerr << "smtpsd: " << e.what() << "\n";
    return 1;
  } catch (const config::config_error& e) {
    std::cerr << "smtpsd: " << e.what() << "\n";
    return 1;
  } catch (const store::store_error& e) {
    std::cerr << "smtpsd: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "smtpsd: " << e.what() << "\n";
    return 1;
  }
  return ctx.exit_code;
}

}  // namespace smtpsd::cli
