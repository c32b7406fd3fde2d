// The API's resources: each route names the service call it makes, the
// query and body it takes (checked before the call) and how it is described
// in /api/v1/openapi.json. No logic here beyond turning the request into
// the call's arguments.
#include <fmt/format.h>

#include "admin/api.hpp"
#include "base/metrics.hpp"
#include "base/time_format.hpp"
#include "service/accounts.hpp"
#include "service/credentials.hpp"
#include "service/events.hpp"
#include "service/identities.hpp"
#include "service/queue.hpp"
#include "service/suppression.hpp"
#include "service/tokens.hpp"

#ifndef SMTPSD_VERSION
#define SMTPSD_VERSION "0"
#endif

namespace smtpsd::admin {

namespace {

using service::env;
using k = field::kind;
using handler = std::function<json(env&, const call&)>;

route get(std::string pattern, std::string summary, handler h, std::vector<field> query = {}) {
  return route{http::verb::get, std::move(pattern), std::move(summary), std::move(h), false, http::status::ok,
               std::move(query), {}, nullptr};
}

route change(http::verb method, std::string pattern, std::string summary, handler h, std::vector<field> body = {},
             json example = nullptr, http::status ok = http::status::ok) {
  return route{method,        std::move(pattern), std::move(summary), std::move(h),      true,
               ok,            {},                 std::move(body),    std::move(example)};
}

std::optional<base::time_point> time_query(const call& c, const std::string& name) {
  auto text = c.query_or(name);
  if (text.empty()) return std::nullopt;
  auto t = base::parse_rfc3339(text);
  if (!t) service::invalid(fmt::format("{} must be a time such as 2026-11-28T09:00:00Z", name));
  return t;
}

std::int64_t int_query(const call& c, const std::string& name) { return std::stoll(c.query_or(name, "0")); }

service::account_changes changes_of(const call& c) {
  service::account_changes ch;
  ch.max_send_rate = c.text("max_send_rate");
  ch.max_24h = c.text("max_24h");
  ch.max_message_bytes = c.text("max_message_bytes");
  ch.suspended = c.text("suspended");
  ch.configuration_set = c.text("configuration_set");
  if (c.body.contains("sandbox") && c.body["sandbox"].is_boolean()) ch.sandbox = c.body["sandbox"].get<bool>() ? "true" : "false";
  return ch;
}

const std::vector<field>& account_fields() {
  static const std::vector<field> f = {
      {"max_send_rate", k::limit, "messages per second, or \"default\" for [limit] default_max_send_rate"},
      {"max_24h", k::limit, "messages per rolling 24 hours, or \"default\""},
      {"max_message_bytes", k::limit, "largest message in bytes, or \"default\""},
      {"suspended", k::boolean, "a suspended account cannot log in or send"},
      {"configuration_set", k::string, "default configuration set; \"\" or \"none\" for none"},
      {"sandbox", k::boolean, "only to its own identities and allowed recipients, 1/s, 200 per 24 hours"},
  };
  return f;
}

json server_status(env& e, const call& c) {
  auto& m = base::metrics();
  auto count = [&](const char* name) { return static_cast<std::int64_t>(m.value(name)); };
  const auto now = e.clock.now();
  return {{"hostname", e.cfg.hostname},
          {"version", SMTPSD_VERSION},
          {"started", base::rfc3339(c.started)},
          {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(now - c.started).count()},
          {"delivery", e.cfg.delivery.enabled},
          {"queue_messages", count("smtpsd_queue_messages")},
          {"connections_open", count("smtpsd_connections_open")},
          {"auth_successes_total", count("smtpsd_auth_successes_total")},
          {"auth_failures_total", count("smtpsd_auth_failures_total")},
          {"messages_accepted_total", count("smtpsd_messages_accepted_total")},
          {"messages_rejected_total", count("smtpsd_messages_rejected_total")},
          {"webhook_backlog", count("smtpsd_webhook_backlog")}};
}

void add_account_routes(std::vector<route>& r) {
  auto with_name = account_fields();
  with_name.insert(with_name.begin(), field{"name", k::string, "letters, digits, '-', '_' and '.'", true});
  r.push_back(get("/api/v1/accounts", "List accounts with their limits and 24-hour usage",
                  [](env& e, const call&) { return service::list_accounts(e); }));
  r.push_back(change(
      http::verb::post, "/api/v1/accounts", "Add an account",
      [](env& e, const call& c) { return service::add_account(e, c.body.at("name").get<std::string>(), changes_of(c)); }, with_name,
      {{"name", "newsletters"}, {"max_24h", 50000}}, http::status::created));
  r.push_back(get("/api/v1/accounts/{name}", "Show an account",
                  [](env& e, const call& c) { return service::show_account(e, c.param("name")); }));
  r.push_back(change(
      http::verb::patch, "/api/v1/accounts/{name}", "Change limits, suspend or resume, set the configuration set",
      [](env& e, const call& c) { return service::set_account(e, c.param("name"), changes_of(c)); }, account_fields(),
      {{"suspended", false}}));
  r.push_back(change(http::verb::delete_, "/api/v1/accounts/{name}", "Remove an account and its credentials",
                     [](env& e, const call& c) { return service::remove_account(e, c.param("name")); }));
  r.push_back(get("/api/v1/accounts/{name}/quota", "GetSendQuota: max_24h, max_send_rate, sent_last_24h",
                  [](env& e, const call& c) { return service::account_quota(e, c.param("name")); }));
  r.push_back(change(http::verb::post, "/api/v1/accounts/{name}/resume",
                     "Lift a pause the reputation thresholds put on the account",
                     [](env& e, const call& c) { return service::resume_account(e, c.param("name")); }));
  r.push_back(change(
      http::verb::post, "/api/v1/accounts/{name}/allowed-recipients", "Let a sandboxed account send to an address",
      [](env& e, const call& c) {
        return service::allow_recipient(e, c.param("name"), c.body.at("address").get<std::string>(), false);
      },
      {{"address", k::string, "a recipient address", true}}, {{"address", "tester@example.org"}}));
  r.push_back(change(http::verb::delete_, "/api/v1/accounts/{name}/allowed-recipients/{address}",
                     "Take an address off a sandboxed account's allowed recipients", [](env& e, const call& c) {
                       return service::allow_recipient(e, c.param("name"), c.param("address"), true);
                     }));
  r.push_back(get(
      "/api/v1/accounts/{name}/explain", "policy explain: each check a submission would meet, and its reply",
      [](env& e, const call& c) {
        return service::explain_policy(e, c.param("name"), c.query_or("from"), c.query_or("to"),
                                       static_cast<std::uint64_t>(int_query(c, "size")));
      },
      {{"from", k::string, "envelope sender"},
       {"to", k::string, "recipient"},
       {"size", k::integer, "message size in octets"}}));
  r.push_back(get(
      "/api/v1/accounts/{name}/statistics", "GetSendStatistics for one account: 15-minute buckets",
      [](env& e, const call& c) { return service::statistics(e, c.param("name"), time_query(c, "since")); },
      {{"since", k::string, "RFC 3339 time; default 14 days ago"}}));
}

void add_credential_routes(std::vector<route>& r) {
  r.push_back(get("/api/v1/accounts/{name}/credentials", "List an account's SMTP credentials (no passwords)",
                  [](env& e, const call& c) { return service::list_credentials(e, c.param("name")); }));
  r.push_back(change(
      http::verb::post, "/api/v1/accounts/{name}/credentials",
      "Make SMTP credentials; the generated password is in the answer, once",
      [](env& e, const call& c) {
        auto password = c.text("password");
        std::optional<base::secret_string> secret;
        if (password) secret = base::secret_string(*password);
        return service::add_credential(e, c.param("name"), c.text("username"), secret);
      },
      {{"username", k::string, "default: generated, 20 characters"},
       {"password", k::string, "default: generated, 24 characters (then shown in the answer)"}},
      json::object(), http::status::created));
  r.push_back(change(http::verb::delete_, "/api/v1/credentials/{username}", "Revoke SMTP credentials",
                     [](env& e, const call& c) { return service::revoke_credential(e, c.param("username")); }));
}

void add_identity_routes(std::vector<route>& r) {
  const std::string base = "/api/v1/accounts/{name}/identities";
  r.push_back(get(
      base, "List an account's identities and their DKIM state",
      [](env& e, const call& c) { return service::list_identities(e, c.param("name"), c.query_or("check_dns") == "true"); },
      {{"check_dns", k::boolean, "look the DKIM records up in DNS"}}));
  r.push_back(change(
      http::verb::post, base, "Add a domain or address; the answer lists the DNS records to publish",
      [](env& e, const call& c) { return service::add_identity(e, c.param("name"), c.body.at("identity").get<std::string>()); },
      {{"identity", k::string, "a domain (example.com) or an address (bob@example.com)", true}},
      {{"identity", "news.example.com"}}, http::status::created));
  r.push_back(get(base + "/{identity}", "Show an identity and the DNS records to publish", [](env& e, const call& c) {
    return service::show_identity(e, c.param("name"), c.param("identity"));
  }));
  r.push_back(change(http::verb::delete_, base + "/{identity}", "Remove an identity", [](env& e, const call& c) {
    return service::remove_identity(e, c.param("name"), c.param("identity"));
  }));
  r.push_back(change(http::verb::post, base + "/{identity}/verify",
                     "Look up the DKIM, SPF and DMARC records; activate new DKIM keys once published",
                     [](env& e, const call& c) {
                       return service::verify_identity(e, c.param("name"), c.param("identity"));
                     }));
  r.push_back(change(http::verb::post, base + "/{identity}/dkim/rotate", "Make new DKIM keys (pending until verified)",
                     [](env& e, const call& c) { return service::rotate_dkim(e, c.param("name"), c.param("identity")); }));
  r.push_back(change(http::verb::post, base + "/{identity}/dkim/retire", "Remove the DKIM keys no longer signing",
                     [](env& e, const call& c) { return service::retire_dkim(e, c.param("name"), c.param("identity")); }));
}

void add_suppression_routes(std::vector<route>& r) {
  r.push_back(get(
      "/api/v1/suppression", "A page of the suppression list, in address order",
      [](env& e, const call& c) {
        return service::list_suppressions(e, c.query_or("after"), c.limit(100, 1000), c.query_or("search"));
      },
      {{"after", k::string, "the \"next\" of the previous page"},
       {"limit", k::integer, "1 to 1000, default 100"},
       {"search", k::string, "addresses starting with this"}}));
  r.push_back(change(
      http::verb::post, "/api/v1/suppression", "Suppress an address",
      [](env& e, const call& c) { return service::add_suppression(e, c.body.at("address").get<std::string>(), c.text("reason").value_or("")); },
      {{"address", k::string, "the address never to send to", true}, {"reason", k::string, "default \"manual\""}},
      {{"address", "bob@example.org"}, {"reason", "manual"}}, http::status::created));
  r.push_back(get("/api/v1/suppression/{address}", "Whether an address is suppressed, and why",
                  [](env& e, const call& c) { return service::show_suppression(e, c.param("address")); }));
  r.push_back(change(http::verb::delete_, "/api/v1/suppression/{address}", "Send to an address again",
                     [](env& e, const call& c) { return service::remove_suppression(e, c.param("address")); }));
}

void add_queue_routes(std::vector<route>& r) {
  r.push_back(get(
      "/api/v1/queue", "A page of the queue, oldest first",
      [](env& e, const call& c) {
        return service::list_queue(e, c.query_or("after"), c.limit(50, 1000), c.query_or("account"),
                                   c.query_or("status"), c.query_or("recipient"));
      },
      {{"after", k::string, "the \"next\" of the previous page"},
       {"limit", k::integer, "1 to 1000, default 50"},
       {"account", k::string, "only this account's messages"},
       {"status", k::string, "only messages with a recipient queued, deferred, delivered or failed"},
       {"recipient", k::string, "only messages to this address"}}));
  r.push_back(get("/api/v1/queue/{id}", "Show a queued message and its recipients",
                  [](env& e, const call& c) { return service::show_message(e, c.param("id")); }));
  r.push_back(change(http::verb::delete_, "/api/v1/queue/{id}", "Remove a message without a bounce",
                     [](env& e, const call& c) { return service::remove_message(e, c.param("id")); }));
  r.push_back(change(http::verb::post, "/api/v1/queue/{id}/retry", "Make a message's pending recipients due now",
                     [](env& e, const call& c) { return service::retry_queue(e, c.param("id")); }));
  r.push_back(change(http::verb::post, "/api/v1/queue/retry", "Make every pending recipient due now",
                     [](env& e, const call&) { return service::retry_queue(e, ""); }));
}

void add_event_routes(std::vector<route>& r) {
  r.push_back(get(
      "/api/v1/events", "Recent events, newest first (or, with after, the ones since, oldest first)",
      [](env& e, const call& c) {
        service::event_filter f;
        f.type = c.query_or("type");
        f.account = c.query_or("account");
        f.since = time_query(c, "since");
        f.until = time_query(c, "until");
        f.before = int_query(c, "before");
        f.after = int_query(c, "after");
        f.limit = c.limit(100, 1000);
        return service::list_events(e, f);
      },
      {{"type", k::string, "send, reject, delivery, bounce, delivery_delay or complaint"},
       {"account", k::string, "only this account's"},
       {"since", k::string, "RFC 3339 time"},
       {"until", k::string, "RFC 3339 time"},
       {"before", k::integer, "the \"next\" of the previous page (older events)"},
       {"after", k::integer, "the \"last\" of an earlier answer (newer events)"},
       {"limit", k::integer, "1 to 1000, default 100"}}));
  r.push_back(get(
      "/api/v1/events/dead-letters", "Events a webhook gave up on",
      [](env& e, const call& c) { return service::dead_letters(e, c.query_or("webhook")); },
      {{"webhook", k::string, "only this webhook's (its name, or its URL)"}}));
  r.push_back(change(
      http::verb::post, "/api/v1/events/redeliver", "Send dead letters again",
      [](env& e, const call& c) {
        auto id = c.text("event_id").value_or("");
        if (id.empty() != (c.text("all") == "true")) service::invalid("give either \"event_id\" or \"all\": true");
        return service::redeliver(e, c.text("webhook").value_or(""), id);
      },
      {{"event_id", k::string, "one dead letter"},
       {"all", k::boolean, "every dead letter (of the webhook, or of every webhook)"},
       {"webhook", k::string, "only this webhook's"}},
      {{"all", true}}));
  r.push_back(get(
      "/api/v1/statistics", "GetSendStatistics: 15-minute buckets of the last 14 days",
      [](env& e, const call& c) { return service::statistics(e, c.query_or("account"), time_query(c, "since")); },
      {{"account", k::string, "only this account's"}, {"since", k::string, "RFC 3339 time; default 14 days ago"}}));
}

void add_token_routes(std::vector<route>& r) {
  r.push_back(get("/api/v1/tokens", "List API tokens (names only)",
                  [](env& e, const call&) { return service::list_tokens(e); }));
  r.push_back(change(
      http::verb::post, "/api/v1/tokens", "Make an API token; the token is in the answer, once",
      [](env& e, const call& c) { return service::add_token(e, c.body.at("name").get<std::string>(), c.text("read_only") == "true"); },
      {{"name", k::string, "what the token is for", true}, {"read_only", k::boolean, "may only read"}},
      {{"name", "grafana"}, {"read_only", true}}, http::status::created));
  r.push_back(change(http::verb::delete_, "/api/v1/tokens/{name}", "Revoke an API token",
                     [](env& e, const call& c) { return service::revoke_token(e, c.param("name")); }));
}

}  // namespace

std::vector<route> api_routes() {
  std::vector<route> r;
  r.push_back(get("/api/v1/server", "The server: version, uptime, queue size, connections, counters", server_status));
  add_account_routes(r);
  add_credential_routes(r);
  add_identity_routes(r);
  add_suppression_routes(r);
  add_queue_routes(r);
  add_event_routes(r);
  add_token_routes(r);
  r.push_back(get("/api/v1/openapi.json", "This description (OpenAPI 3.1)", [](env&, const call&) {
    static const json doc = openapi(api_routes());
    return doc;
  }));
  return r;
}

}  // namespace smtpsd::admin
