#pragma once
// The smtpsd command line. Every command group lives in its own file and
// registers itself on the CLI11 app; main.cpp supplies the concrete backends.
#include <CLI/CLI.hpp>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "config/config.hpp"
#include "service/service.hpp"
#include "store/stores.hpp"

namespace smtpsd::cli {

// What only the composition root may name.
struct backends {
  std::function<store::stores(const config::config&)> open_stores;
  std::function<int(const config::config&, store::stores)> serve;
  // Run first by `serve`, before it reads anything (main: the allocator's
  // tuning, which executes the process again).
  std::function<void()> before_serve;
};

// An error the user can act on; printed as "smtpsd: MESSAGE", exit status 1.
class failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct context {
  backends b;
  std::optional<std::string> config_path;
  bool json = false;
  int exit_code = 0;

  config::config load_config() const;
  store::stores open_stores(const config::config& c) const { return b.open_stores(c); }
  // Prints a JSON document (with --json) or the text.
  void print(const nlohmann::json& doc, const std::string& text) const;
  // Run as root with `user` set (an operator on a packaged install), the
  // command switches to that user first, so that whatever it creates in the
  // data directory stays the server's.
  void become_service_user(const config::config& c) const;
  // Runs a service operation on the configured store.
  template <class F>
  nlohmann::json with_service(F f) const {
    auto c = load_config();
    become_service_user(c);
    service::env e{c, open_stores(c), base::real_clock()};
    return f(e);
  }
};

int run(int argc, char** argv, backends b);

// Command groups.
void add_init(CLI::App& app, context& ctx);
void add_serve(CLI::App& app, context& ctx);
void add_account(CLI::App& app, context& ctx);
void add_policy(CLI::App& app, context& ctx);
void add_credential(CLI::App& app, context& ctx);
void add_queue(CLI::App& app, context& ctx);
void add_identity(CLI::App& app, context& ctx);
void add_suppression(CLI::App& app, context& ctx);
void add_send(CLI::App& app, context& ctx);
void add_probe(CLI::App& app, context& ctx);
void add_events(CLI::App& app, context& ctx);
void add_token(CLI::App& app, context& ctx);


}  // namespace smtpsd::cli
