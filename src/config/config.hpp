#pragma once
// The configuration file (TOML, SPEC §2) as plain structs. Loading validates
// everything at once; an error names the file, the line and the key.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/ip.hpp"

namespace smtpsd::config {

class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// inbound: the return-path listener (SPEC §9): port 25, STARTTLS offered, no
// AUTH; takes mail only for [bounces] domain, and only to read reports.
enum class listener_mode { implicit_tls, starttls, inbound };
std::string_view to_string(listener_mode m);

struct listener {
  base::host_port address;
  listener_mode mode = listener_mode::implicit_tls;
  std::vector<base::cidr> allow;  // empty: everyone
  std::vector<base::cidr> deny;   // checked first
  bool proxy_protocol = false;
  std::string name() const;       // "0.0.0.0:465", used as the metrics label
};

struct certificate {
  std::filesystem::path cert;
  std::filesystem::path key;
};

struct tls_settings {
  std::vector<certificate> certificates;
  std::string min_version = "1.2";  // "1.2" or "1.3"
};

struct limits {
  std::uint64_t max_message_bytes = 41943040;
  unsigned max_recipients = 50;
  unsigned max_connections = 20000;
  unsigned max_connections_per_ip = 100;
  unsigned command_timeout_s = 300;
  unsigned data_timeout_s = 600;
  double default_max_send_rate = 14;
  std::uint64_t default_max_24h = 50000;
  unsigned max_errors = 10;       // client errors before 421 and close
  unsigned drain_timeout_s = 30;  // SIGTERM: how long sessions in progress may finish
  bool sandbox_new_accounts = false;  // new accounts start in the sandbox (SPEC §9)
  unsigned duplicate_window_s = 600;  // a resubmission within this time gets the first queue id; 0: off
};

// [bounces]: the return path (SPEC §9).
struct bounce_settings {
  std::string domain;  // "" = envelope senders stay as submitted, no inbound reports
  std::uint64_t max_report_bytes = 1024 * 1024;  // a report is read from its first this many octets
};

// [reputation]: SES's thresholds by default.
struct reputation_settings {
  double bounce_warning_percent = 5;
  double bounce_pause_percent = 10;
  double complaint_warning_percent = 0.1;
  double complaint_pause_percent = 0.5;
  std::uint64_t min_recipients = 200;      // judged only from this many recipients on
  std::uint64_t window_recipients = 10000;  // rates over the last this many recipients…
  unsigned window_days = 14;               // …or these days, whichever is shorter
};

struct auth_settings {
  unsigned failures_before_throttle = 5;
  unsigned failure_window_s = 600;
};

struct smarthost {
  base::host_port address;
  listener_mode mode = listener_mode::starttls;
  std::string username;
  std::filesystem::path password_file;
  std::filesystem::path ca_file;  // verify the smarthost against this CA instead of the system's
};

struct delivery_settings {
  bool enabled = true;
  std::uint64_t max_queue_age_s = 432000;
  std::uint64_t delay_warning_s = 14400;  // a delay DSN at most this often per recipient; 0: none
  std::map<std::string, base::host_port> routes;  // domain (lower case) or "*" -> host:port
  std::map<std::string, std::string> route_tls;   // the same keys -> "none" | "may" | "verify", where a route says
  std::string tls_policy = "dane-mta-sts";        // or "opportunistic"
  std::filesystem::path dnssec_trust_anchor = "/usr/share/dns/root.key";
  std::uint16_t mta_sts_port = 443;               // HTTPS port of mta-sts.DOMAIN (tests point it elsewhere)
  std::uint64_t tls_report_period_s = 86400;      // TLS-RPT window: UTC days
  std::vector<base::host_port> resolvers;
  std::uint16_t mx_port = 25;
  std::optional<smarthost> relay;
  unsigned lease_s = 60;
  unsigned concurrency = 100;            // deliveries in flight at once
  unsigned per_destination = 10;         // connections per destination
  unsigned connect_timeout_s = 30;
  unsigned command_timeout_s = 300;
};

struct storage_settings {
  std::string backend = "embedded";
  std::string postgres_url;
  std::string redis_url;
  std::string node;  // this node's name in delivery leases; "" = the machine's host name
};

// [[events.webhooks]] and [[configuration_sets.webhooks]] (docs/events.md).
struct webhook {
  std::string name;  // the key of its cursor; default: the URL (prefixed by its configuration set)
  std::string url;
  std::string secret;  // from `secret` or `secret_file`; never logged
  std::vector<std::string> types;     // empty: every type
  std::vector<std::string> accounts;  // empty: every account
  std::string format = "smtpsd";      // "smtpsd" or "ses"
  std::filesystem::path ca_file;
  unsigned max_in_flight = 4;  // connections with requests out
  unsigned pipeline = 16;      // requests written at once on a connection (HTTP pipelining); 1: off
  std::uint64_t max_age_s = 86400;
  unsigned timeout_s = 10;
  unsigned max_backoff_s = 3600;
};

struct events_settings {
  std::vector<webhook> webhooks;  // [[events.webhooks]], and the single `webhook = URL` of earlier versions
  unsigned retention_days = 14;   // the event log keeps events this long (past every webhook's cursor)
};

struct configuration_set {
  std::string name;
  std::vector<webhook> webhooks;  // get only the events of messages in this set
};

struct log_settings {
  std::string level = "info";
  std::string format = "json";
};

struct config {
  std::filesystem::path file;  // the file it came from
  std::string hostname = "localhost";
  std::filesystem::path data_dir;
  std::string user;
  bool allow_root = false;  // serve client traffic as root (when user is empty)
  unsigned threads = 0;  // I/O threads; 0 = one per core but one (at least one)
  bool batch_scheduling = true;  // scheduling = "batch": every thread SCHED_BATCH ("normal": SCHED_OTHER)
  bool cpu_affinity = true;  // each I/O thread and the group committer kept on a core of its own, when there are enough
  tls_settings tls;
  std::vector<listener> listeners;
  limits limit;
  auth_settings auth;
  delivery_settings delivery;
  storage_settings storage;
  std::optional<base::host_port> admin_listen;
  bool admin_tls = false;  // HTTPS with the [tls] certificates
  events_settings events;
  bounce_settings bounces;
  reputation_settings reputation;
  std::vector<configuration_set> configuration_sets;
  log_settings log;
};

// Throws config_error.
config load(const std::filesystem::path& file);
config parse(std::string_view text, const std::filesystem::path& file);

// -c FILE when given, else ./smtpsd.toml, else /etc/smtpsd/smtpsd.toml.
std::filesystem::path locate(const std::optional<std::string>& explicit_path);

// The commented configuration `smtpsd init` writes.
// as_root: init ran as root, so the file says allow_root = true explicitly.
// data_dir: where the store goes ("data", next to the file, when empty);
// user: the account to run as after binding (then allow_root is not written).
std::string default_text(std::string_view hostname, bool as_root = false, std::string_view data_dir = {},
                         std::string_view user = {});

}  // namespace smtpsd::config
