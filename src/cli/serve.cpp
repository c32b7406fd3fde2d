#include "base/log.hpp"
#include "cli/cli.hpp"

namespace smtpsd::cli {

void add_serve(CLI::App& app, context& ctx) {
  auto* cmd = app.add_subcommand("serve", "run the server in the foreground (SIGTERM stops, SIGHUP reloads)");
  cmd->callback([&ctx] {
    if (ctx.b.before_serve) ctx.b.before_serve();
    auto c = ctx.load_config();
    base::init_logging(c.log.format == "text" ? base::log_format::text : base::log_format::json,
                       spdlog::level::from_str(c.log.level));
    ctx.exit_code = ctx.b.serve(c, ctx.open_stores(c));
  });
}

}  // namespace smtpsd::cli
