#include <unistd.h>

#include <sys/stat.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "cli/cli.hpp"
#include "net/tls.hpp"

namespace smtpsd::cli {

void add_init(CLI::App& app, context& ctx) {
  auto* cmd = app.add_subcommand("init", "create DIR with a configuration, a self-signed certificate and an empty store");
  auto dir = std::make_shared<std::string>();
  auto hostname = std::make_shared<std::string>("localhost");
  cmd->add_option("DIR", *dir, "folder to create (or an empty one)")->required();
  auto data_dir = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>();
  cmd->add_option("--hostname", *hostname, "host name for the banner and the certificate");
  cmd->add_option("--data-dir", *data_dir, "where the store goes (default DIR/data); the Debian package uses /var/lib/smtpsd");
  cmd->add_option("--user", *user, "the user to serve as when started as root (written as user = \"...\")");
  cmd->callback([&ctx, dir, hostname, data_dir, user] {
    namespace fs = std::filesystem;
    fs::path d = fs::absolute(*dir).lexically_normal();
    const fs::path conf = d / "smtpsd.toml", cert = d / "tls/cert.pem", key = d / "tls/key.pem";
    const fs::path data = data_dir->empty() ? d / "data" : fs::absolute(*data_dir).lexically_normal();
    for (auto& p : {conf, cert, key, data / "smtpsd.db"})
      if (fs::exists(p)) throw failure(fmt::format("{} already exists; init never overwrites", p.string()));
    if (hostname->empty() || hostname->find_first_of(" \t/\\\"") != std::string::npos)
      throw failure("--hostname must be a host name such as mail.example.com");
    fs::create_directories(d / "tls");
    ::chmod((d / "tls").c_str(), 0700);
    net::write_self_signed(*hostname, cert, key);
    {
      std::ofstream out(conf);
      out << config::default_text(*hostname, ::geteuid() == 0, data_dir->empty() ? "" : data.string(), *user);
      if (!out) throw failure("cannot write " + conf.string());
    }
    auto c = config::load(conf);
    ctx.open_stores(c);  // creates the empty store
    nlohmann::json j = {{"config", conf.string()},
                        {"certificate", cert.string()},
                        {"key", key.string()},
                        {"data_dir", c.data_dir.string()},
                        {"hostname", *hostname}};
    ctx.print(j, fmt::format("created {}\n  configuration  {}\n  certificate    {} (self-signed, ECDSA P-256, for {})\n"
                             "  key            {}\n  store          {}\nnext:\n  smtpsd -c {} account add NAME\n"
                             "  smtpsd -c {} credential add NAME\n  smtpsd -c {} serve\n",
                             d.string(), conf.string(), cert.string(), *hostname, key.string(), c.data_dir.string(),
                             conf.string(), conf.string(), conf.string()));
  });
}

}  // namespace smtpsd::cli
