#include <fmt/format.h>
#include <toml++/toml.h>

#include <sstream>

#include "config/config.hpp"

namespace smtpsd::config {

std::string default_text(std::string_view hostname, bool as_root, std::string_view data_dir, std::string_view user) {
  const char* root_line = as_root && user.empty()
      ? "allow_root = true                    # written because init ran as root: set user instead\n"
      : "# allow_root = false                # serve client traffic as root when user is empty\n";
  const auto quoted = [](std::string_view v) {  // a TOML string, escaped by toml++
    std::ostringstream out;
    const toml::value<std::string> value{std::string(v)};
    out << toml::toml_formatter(value, toml::format_flags::none);  // "…", as the rest of the file
    return out.str();
  };
  return fmt::format(R"(# smtpsd configuration; see docs/configuration.md for every key.
# Relative paths are relative to this file's folder.

hostname = "{0}"                     # banner, EHLO name, Message-ID domain
data_dir = {2:<20} # store, spool, events
user = {3:<24} # started as root: bind the listeners, then run as this user
{1}# threads = 0                        # I/O threads; 0 = one per core but one (at least one)
# scheduling = "batch"                # SCHED_BATCH: fewer context switches; "normal" beside latency-sensitive programs
# cpu_affinity = true                 # each I/O thread and the group committer on a core of its own

[tls]
certificates = [ {{ cert = "tls/cert.pem", key = "tls/key.pem" }} ]   # several: chosen by SNI and key type
min_version = "1.2"                  # "1.2" or "1.3"

# Implicit TLS (RFC 8314): TLS from the first byte.
[[listeners]]
address = "0.0.0.0:465"
mode = "implicit-tls"

# The alternate implicit-TLS port, for networks that block 465.
[[listeners]]
address = "0.0.0.0:2465"
mode = "implicit-tls"

# STARTTLS (RFC 3207) submission ports.
[[listeners]]
address = "0.0.0.0:587"
mode = "starttls"

[[listeners]]
address = "0.0.0.0:2587"
mode = "starttls"

[[listeners]]
address = "0.0.0.0:2525"
mode = "starttls"
# allow = []                         # CIDR list; empty = everyone
# deny = []                          # CIDR list, checked first
# proxy_protocol = false             # HAProxy PROXY v1/v2 header before anything else

# The return path's listener: bounces and complaint reports for [bounces] domain
# (publish its MX pointing here). No AUTH; it never relays.
# [[listeners]]
# address = "0.0.0.0:25"
# mode = "inbound"

[limits]
max_message_bytes = 41943040         # 40 MB
max_recipients = 50
max_connections = 20000
max_connections_per_ip = 100
command_timeout_s = 300
data_timeout_s = 600
default_max_send_rate = 14           # recipients per second per account when the account sets none
default_max_24h = 50000              # recipients per rolling 24 hours
# max_errors = 10                    # client errors before 421 and close
# drain_timeout_s = 30               # on SIGTERM, how long sessions in progress may finish
# sandbox_new_accounts = false       # true: new accounts may send only to their own identities, 200 a day
# duplicate_window_s = 600           # a resubmission (same account, Message-ID, body) gets the first queue id

[auth]
failures_before_throttle = 5         # failed AUTHs per client IP within the window
failure_window_s = 600

[delivery]
enabled = true
max_queue_age_s = 432000             # then bounce (5 days)
delay_warning_s = 14400              # a delay DSN every 4 hours a recipient stays deferred; 0: none
routes = {{ }}                         # {{ "example.test" = "127.0.0.1:2526", "*" = "..." }}: skip MX for these domains
                                     # a route may be {{ address = "host:port", tls = "none" | "may" | "verify" }}
resolvers = []                       # DNS servers "ip:port"; empty = /etc/resolv.conf
mx_port = 25                         # port used on MX hosts
tls_policy = "dane-mta-sts"          # or "opportunistic": ignore the recipient domains' DANE and MTA-STS
# dnssec_trust_anchor = "/usr/share/dns/root.key"   # DS or DNSKEY records DANE validates from
# mta_sts_port = 443                 # HTTPS port of mta-sts.DOMAIN (tests point it elsewhere)
# tls_report_period_s = 86400        # TLS-RPT (RFC 8460) reports cover UTC days; shorter only for tests
# lease_s = 60                       # several nodes: how long a delivery claim lasts
# concurrency = 100                  # deliveries in flight at once
# per_destination = 10               # connections at once to one destination
# connect_timeout_s = 30
# command_timeout_s = 300
# smarthost = {{ address = "email-smtp.eu-west-1.amazonaws.com:2465", mode = "implicit-tls", username = "...", password_file = "..." }}

# The return path (docs/reputation.md): MAIL FROM becomes b+QUEUEID-TAG@DOMAIN, and the
# bounces and complaints sent there come back as events, suppressions and rates.
# [bounces]
# domain = "bounces.example.com"
# max_report_bytes = 1048576         # a report is read from its first 1 MiB; the rest is dropped

# Each account's bounce and complaint rates; above a pause threshold it is paused
# until `smtpsd account resume NAME`. The defaults are Amazon SES's.
# [reputation]
# bounce_warning_percent = 5
# bounce_pause_percent = 10
# complaint_warning_percent = 0.1
# complaint_pause_percent = 0.5
# min_recipients = 200               # no judgement below this many recipients
# window_recipients = 10000          # rates over the last 10,000 recipients
# window_days = 14                   # or the last 14 days, whichever is shorter

[storage]
backend = "embedded"                 # "embedded" or "postgres"
postgres_url = ""                    # with backend = "postgres"
redis_url = ""                       # shared counters when several nodes run
# node = ""                          # several nodes: this one's name in delivery leases (default: host name)

[admin]
listen = "127.0.0.1:8025"            # HTTP: /metrics, /healthz, /api/v1/…, dashboard at /
tls = false                          # true: HTTPS with the [tls] certificates
# API and dashboard tokens: smtpsd token add NAME [--read-only] (docs/api.md)

[events]
retention_days = 14                  # the event log keeps events this long (docs/events.md)
# Each event is POSTed, signed (Smtpsd-Signature), at least once, to each webhook:
# [[events.webhooks]]
# url = "https://hooks.example.com/smtpsd"
# secret_file = "webhook.secret"     # or secret = "…"
# types = ["bounce", "complaint"]    # default: every type
# format = "smtpsd"                  # or "ses": Amazon SES's event records

# Configuration sets (X-SES-CONFIGURATION-SET), each with its own webhooks:
# [[configuration_sets]]
# name = "marketing"
# [[configuration_sets.webhooks]]
# url = "https://crm.example.com/events"
# secret = "…"

[log]
level = "info"                       # trace, debug, info, warn, error
format = "json"                      # "json" (one object per line) or "text"
)",
                     hostname, root_line, quoted(data_dir.empty() ? "data" : data_dir), quoted(user));
}

}  // namespace smtpsd::config
