#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/config.hpp"

using namespace smtpsd::config;

namespace {
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/smtpsd-config-XXXXXX";
    path = mkdtemp(tmpl);
    std::filesystem::create_directories(path / "tls");
    std::ofstream(path / "tls/cert.pem") << "x";
    std::ofstream(path / "tls/key.pem") << "x";
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

std::string error_of(const std::string& text, const std::filesystem::path& file) {
  try {
    parse(text, file);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(config, default_text_loads_with_five_listeners) {
  temp_dir d;
  auto c = parse(default_text("mail.example.com"), d.path / "smtpsd.toml");
  EXPECT_EQ(c.hostname, "mail.example.com");
  ASSERT_EQ(c.listeners.size(), 5u);
  EXPECT_EQ(c.listeners[0].name(), "0.0.0.0:465");
  EXPECT_EQ(c.listeners[1].name(), "0.0.0.0:2465");
  EXPECT_EQ(c.listeners[2].mode, listener_mode::starttls);
  EXPECT_EQ(c.data_dir, d.path / "data");
  EXPECT_EQ(c.tls.certificates.at(0).cert, d.path / "tls/cert.pem");
  EXPECT_EQ(c.limit.max_message_bytes, 41943040u);
  EXPECT_EQ(c.admin_listen->port, 8025);
}

TEST(config, default_text_for_a_package_names_the_data_dir_and_the_user) {
  temp_dir d;
  auto c = parse(default_text("mail.example.com", true, "/var/lib/smtpsd", "smtpsd"), d.path / "smtpsd.toml");
  EXPECT_EQ(c.data_dir, std::filesystem::path("/var/lib/smtpsd"));
  EXPECT_EQ(c.user, "smtpsd");
  EXPECT_FALSE(c.allow_root) << "with a user, root is never needed";
  EXPECT_TRUE(parse(default_text("h", true), d.path / "smtpsd.toml").allow_root);
  EXPECT_EQ(parse(default_text("h", false, "/srv/a \"b\""), d.path / "smtpsd.toml").data_dir,
            std::filesystem::path("/srv/a \"b\""));
}

TEST(config, errors_name_file_line_and_key) {
  temp_dir d;
  auto f = d.path / "smtpsd.toml";
  EXPECT_EQ(error_of("hostname = \"x\"\nbogus = 1\n", f), f.string() + ":2: bogus: unknown key");
  EXPECT_EQ(error_of("[limits]\nmax_recipients = \"ten\"\n", f), f.string() + ":2: limits.max_recipients: must be an integer");
  EXPECT_EQ(error_of("[limits]\nmax_recipients = -1\n", f),
            f.string() + ":2: limits.max_recipients: must be between 1 and 100000, got -1");
  auto listener_err = error_of(
      "[tls]\ncertificates = [{cert=\"tls/cert.pem\", key=\"tls/key.pem\"}]\n[[listeners]]\naddress = \"1.2.3:465\"\n", f);
  EXPECT_NE(listener_err.find(":4: listeners[0].address: \"1.2.3:465\" is not an IP address:port"), std::string::npos)
      << listener_err;
  auto cidr_err = error_of(
      "[tls]\ncertificates = [{cert=\"tls/cert.pem\", key=\"tls/key.pem\"}]\n[[listeners]]\naddress = \"[::]:465\"\n"
      "deny = [\"10.0.0.0/8\", \"300.1.1.1/8\"]\n",
      f);
  EXPECT_NE(cidr_err.find(":5: listeners[0].deny: \"300.1.1.1/8\""), std::string::npos) << cidr_err;
  auto cert_err = error_of("[tls]\ncertificates = [{cert=\"missing.pem\", key=\"tls/key.pem\"}]\n", f);
  EXPECT_NE(cert_err.find("tls.certificates[0].cert: cannot read"), std::string::npos) << cert_err;
  auto syntax = error_of("hostname = \n", f);
  EXPECT_EQ(syntax.rfind(f.string() + ":1:", 0), 0u) << syntax;
  EXPECT_NE(error_of("[storage]\nbackend = \"postgres\"\n", f).find("storage.postgres_url: is required"), std::string::npos);
  EXPECT_EQ(error_of("hostname = \"x\"\nscheduling = \"fifo\"\n", f),
            f.string() + ":2: scheduling: must be \"batch\" or \"normal\"");
}

TEST(config, scheduling_is_batch_unless_normal) {
  temp_dir d;
  auto f = d.path / "smtpsd.toml";
  EXPECT_TRUE(parse("hostname = \"x\"\n", f).batch_scheduling);
  EXPECT_TRUE(parse("scheduling = \"batch\"\n", f).batch_scheduling);
  EXPECT_FALSE(parse("scheduling = \"normal\"\n", f).batch_scheduling);
}

TEST(config, routes_and_smarthost) {
  temp_dir d;
  std::ofstream(d.path / "pw") << "secret\n";
  auto c = parse(
      "[delivery]\nroutes = { \"Example.TEST\" = \"127.0.0.1:2526\", \"*\" = \"relay.example:25\" }\n"
      "resolvers = [\"127.0.0.1:5353\"]\nsmarthost = { address = \"relay.example:2465\", mode = \"implicit-tls\", "
      "username = \"u\", password_file = \"pw\" }\n",
      d.path / "smtpsd.toml");
  EXPECT_EQ(c.delivery.routes.at("example.test").port, 2526);
  EXPECT_EQ(c.delivery.routes.at("*").host, "relay.example");
  EXPECT_EQ(c.delivery.resolvers.at(0).port, 5353);
  ASSERT_TRUE(c.delivery.relay);
  EXPECT_EQ(c.delivery.relay->mode, listener_mode::implicit_tls);
  EXPECT_EQ(c.delivery.relay->password_file, d.path / "pw");
}

TEST(config, outbound_tls_policy_and_route_tls) {
  temp_dir d;
  std::ofstream(d.path / "anchor.key") << "test. IN DS 1 13 2 00\n";
  const auto f = d.path / "smtpsd.toml";
  auto c = parse(
      "[delivery]\ntls_policy = \"opportunistic\"\ndnssec_trust_anchor = \"anchor.key\"\nmta_sts_port = 8443\n"
      "routes = { \"a.test\" = { address = \"127.0.0.1:2526\", tls = \"verify\" }, \"b.test\" = \"127.0.0.1:2527\" }\n",
      f);
  EXPECT_EQ(c.delivery.tls_policy, "opportunistic");
  EXPECT_EQ(c.delivery.dnssec_trust_anchor, d.path / "anchor.key");
  EXPECT_EQ(c.delivery.mta_sts_port, 8443);
  EXPECT_EQ(c.delivery.routes.at("a.test").port, 2526);
  EXPECT_EQ(c.delivery.route_tls.at("a.test"), "verify");
  EXPECT_EQ(c.delivery.route_tls.count("b.test"), 0u);
  EXPECT_EQ(parse("", f).delivery.tls_policy, "dane-mta-sts");
  EXPECT_NE(error_of("[delivery]\ntls_policy = \"strict\"\n", f).find(":2:"), std::string::npos);
  EXPECT_NE(error_of("[delivery]\nroutes = { \"a\" = { address = \"h:1\", tls = \"maybe\" } }\n", f)
                .find("delivery.routes.\"a\".tls"),
            std::string::npos);
  EXPECT_NE(error_of("[delivery]\ndnssec_trust_anchor = \"missing.key\"\n", f).find("cannot read"), std::string::npos);
}

TEST(config, webhooks_and_configuration_sets) {
  auto c = smtpsd::config::parse(R"(
[events]
webhook = "https://old.example.com/hook"
[[events.webhooks]]
url = "http://127.0.0.1:9000/h"
secret = "k"
types = ["bounce", "complaint"]
accounts = ["acme"]
format = "ses"
max_backoff_s = 5
pipeline = 1
[[configuration_sets]]
name = "marketing"
[[configuration_sets.webhooks]]
url = "https://crm.example.com/e"
)",
                                 "/tmp/t.toml");
  ASSERT_EQ(c.events.webhooks.size(), 2u);
  EXPECT_EQ(c.events.webhooks[0].url, "https://old.example.com/hook") << "the single webhook of earlier versions";
  EXPECT_EQ(c.events.webhooks[0].format, "smtpsd");
  EXPECT_EQ(c.events.webhooks[1].types, (std::vector<std::string>{"bounce", "complaint"}));
  EXPECT_EQ(c.events.webhooks[1].format, "ses");
  EXPECT_EQ(c.events.webhooks[1].max_backoff_s, 5u);
  EXPECT_EQ(c.events.webhooks[1].pipeline, 1u);
  EXPECT_EQ(c.events.webhooks[0].pipeline, 16u) << "pipelined unless told";
  EXPECT_EQ(c.events.webhooks[1].name, "http://127.0.0.1:9000/h");
  ASSERT_EQ(c.configuration_sets.size(), 1u);
  EXPECT_EQ(c.configuration_sets[0].webhooks[0].name, "marketing:https://crm.example.com/e");
  EXPECT_THROW(smtpsd::config::parse("[[events.webhooks]]\nurl = \"http://x/\"\nformat = \"xml\"\n", "/tmp/t.toml"),
               smtpsd::config::config_error);
  EXPECT_THROW(smtpsd::config::parse("[[events.webhooks]]\nurl = \"http://x/\"\npipeline = 0\n", "/tmp/t.toml"),
               smtpsd::config::config_error);
  EXPECT_THROW(smtpsd::config::parse("[[configuration_sets]]\nname = \"a b\"\n", "/tmp/t.toml"),
               smtpsd::config::config_error);
}
