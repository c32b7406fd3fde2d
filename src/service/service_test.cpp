// The service layer with in-memory stores and a manual clock: the JSON the
// CLI prints and the API sends, and the error kinds that become exit
// statuses and HTTP statuses.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/ids.hpp"
#include "service/accounts.hpp"
#include "service/credentials.hpp"
#include "service/events.hpp"
#include "service/identities.hpp"
#include "service/queue.hpp"
#include "service/suppression.hpp"
#include "service/tokens.hpp"
#include "store/memory/memory_stores.hpp"

namespace smtpsd::service {
namespace {

struct ServiceTest : ::testing::Test {
  ServiceTest() {
    dir = std::filesystem::temp_directory_path() /
          ("smtpsd-service-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir);
    cfg.data_dir = dir;
    cfg.hostname = "mail.test";
  }
  ~ServiceTest() override { std::filesystem::remove_all(dir); }

  error::kind kind_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const error& e) {
      return e.what_kind();
    }
    ADD_FAILURE() << "no service::error";
    return error::kind::invalid;
  }

  std::filesystem::path dir;
  config::config cfg;
  base::manual_clock clock;
  env e{cfg, store::memory::open(), clock};
};

TEST_F(ServiceTest, AccountsCarryLimitsSuspensionAndQuota) {
  account_changes c;
  c.max_24h = "200";
  auto a = add_account(e, "acme", c);
  EXPECT_EQ(a["name"], "acme");
  EXPECT_EQ(a["max_24h"], 200);
  EXPECT_EQ(a["max_send_rate"], cfg.limit.default_max_send_rate);
  EXPECT_EQ(a["own_limits"]["max_24h"], true);
  EXPECT_EQ(a["own_limits"]["max_send_rate"], false);
  EXPECT_EQ(kind_of([&] { add_account(e, "acme", {}); }), error::kind::conflict);
  EXPECT_EQ(kind_of([&] { add_account(e, "bad name", {}); }), error::kind::invalid);
  EXPECT_EQ(kind_of([&] { show_account(e, "nobody"); }), error::kind::not_found);

  account_changes s;
  s.suspended = "true";
  s.max_24h = "default";
  auto changed = set_account(e, "acme", s);
  EXPECT_EQ(changed["suspended"], true);
  EXPECT_EQ(changed["max_24h"], cfg.limit.default_max_24h);
  account_changes wrong;
  wrong.max_send_rate = "fast";
  EXPECT_EQ(kind_of([&] { set_account(e, "acme", wrong); }), error::kind::invalid);

  auto quota = account_quota(e, "acme");
  EXPECT_EQ(quota, (json{{"max_24h", cfg.limit.default_max_24h},
                         {"max_send_rate", cfg.limit.default_max_send_rate},
                         {"sent_last_24h", 0}}));
  EXPECT_EQ(list_accounts(e).size(), 1u);
  EXPECT_EQ(remove_account(e, "acme"), (json{{"removed", "acme"}}));
  EXPECT_EQ(kind_of([&] { remove_account(e, "acme"); }), error::kind::not_found);
}

TEST_F(ServiceTest, CredentialsShowTheGeneratedPasswordOnce) {
  add_account(e, "acme", {});
  auto made = add_credential(e, "acme", std::nullopt, std::nullopt);
  EXPECT_EQ(made["account"], "acme");
  EXPECT_EQ(made["password"].get<std::string>().size(), 24u);
  auto listed = list_credentials(e, "acme");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["username"], made["username"]);
  EXPECT_FALSE(listed[0].contains("password"));
  EXPECT_EQ(revoke_credential(e, made["username"]), (json{{"revoked", made["username"]}}));
  EXPECT_EQ(kind_of([&] { revoke_credential(e, made["username"]); }), error::kind::not_found);
}

TEST_F(ServiceTest, IdentitiesListTheRecordsToPublish) {
  add_account(e, "acme", {});
  auto made = add_identity(e, "acme", "Example.COM");
  EXPECT_EQ(made["identity"], "example.com");
  std::set<std::string> names;
  int dkim = 0;
  for (auto& r : made["dns_records"]) {
    names.insert(r["name"]);
    dkim += r["name"].get<std::string>().ends_with("._domainkey.example.com") ? 1 : 0;
  }
  EXPECT_TRUE(names.count("example.com"));         // SPF
  EXPECT_TRUE(names.count("_dmarc.example.com"));  // DMARC
  EXPECT_GE(dkim, 1);                              // and the DKIM keys
  EXPECT_EQ(kind_of([&] { add_identity(e, "acme", "example.com"); }), error::kind::conflict);
  EXPECT_EQ(list_identities(e, "acme", false)[0]["dkim"], "active keys");
  EXPECT_EQ(kind_of([&] { show_identity(e, "acme", "other.example"); }), error::kind::not_found);
  EXPECT_EQ(remove_identity(e, "acme", "example.com"), (json{{"removed", "example.com"}}));
}

TEST_F(ServiceTest, SuppressionPagesSayWhetherMoreFollow) {
  for (int i = 0; i < 5; ++i) add_suppression(e, "u" + std::to_string(i) + "@example.org", "");
  EXPECT_EQ(kind_of([&] { add_suppression(e, "u1@example.org", ""); }), error::kind::conflict);
  EXPECT_EQ(kind_of([&] { add_suppression(e, "not an address", ""); }), error::kind::invalid);
  auto first = list_suppressions(e, "", 2, "");
  EXPECT_EQ(first["items"].size(), 2u);
  EXPECT_EQ(first["next"], "u1@example.org");
  EXPECT_EQ(first["total"], 5);
  auto last = list_suppressions(e, "u3@example.org", 2, "");
  EXPECT_EQ(last["items"].size(), 1u);
  EXPECT_TRUE(last["next"].is_null());  // exactly the end: no empty page after it
  EXPECT_TRUE(last["total"].is_null()) << "only the first page counts";
  EXPECT_TRUE(list_suppressions(e, "", 2, "u")["total"].is_null()) << "and not a search";
  auto exact = list_suppressions(e, "", 5, "");
  EXPECT_TRUE(exact["next"].is_null());
  EXPECT_EQ(show_suppression(e, "U2@example.org")["reason"], "manual");
  EXPECT_EQ(remove_suppression(e, "u2@example.org"), (json{{"removed", "u2@example.org"}}));
  EXPECT_EQ(kind_of([&] { show_suppression(e, "u2@example.org"); }), error::kind::not_found);
}

TEST_F(ServiceTest, QueuePagesFilterAndRetry) {
  store::account proto;
  proto.name = "acme";
  auto acct = e.stores.accounts->create_account(proto);
  ASSERT_TRUE(acct);
  for (int i = 0; i < 3; ++i) {
    store::queued_message m;
    m.id = base::make_queue_id(clock.now(), static_cast<std::uint32_t>(i));
    m.account_id = acct->id;
    m.account = "acme";
    m.from = "a@example.com";
    m.created = clock.now();
    store::queued_recipient r;
    r.address = "r" + std::to_string(i) + "@example.org";
    r.status = i == 1 ? store::rcpt_status::deferred : store::rcpt_status::queued;
    r.next_attempt = clock.now() + std::chrono::hours(1);
    m.recipients.push_back(r);
    e.stores.queue->enqueue(std::span<const store::queued_message>(&m, 1));
  }
  auto page = list_queue(e, "", 2, "", "", "");
  EXPECT_EQ(page["items"].size(), 2u);
  ASSERT_FALSE(page["next"].is_null());
  auto rest = list_queue(e, page["next"], 2, "", "", "");
  EXPECT_EQ(rest["items"].size(), 1u);
  EXPECT_TRUE(rest["next"].is_null());
  auto deferred = list_queue(e, "", 10, "", "deferred", "");
  ASSERT_EQ(deferred["items"].size(), 1u);
  EXPECT_EQ(deferred["items"][0]["recipients"][0]["address"], "r1@example.org");
  EXPECT_EQ(list_queue(e, "", 10, "", "", "R2@EXAMPLE.ORG")["items"].size(), 1u);
  EXPECT_EQ(kind_of([&] { list_queue(e, "", 10, "", "lost", ""); }), error::kind::invalid);
  const std::string id = deferred["items"][0]["id"];
  EXPECT_EQ(retry_queue(e, id), (json{{"recipients", 1}}));
  EXPECT_EQ(kind_of([&] { show_message(e, "0123456789ABCDEF"); }), error::kind::not_found);
  EXPECT_EQ(kind_of([&] { show_message(e, "nonsense"); }), error::kind::invalid);
}

TEST_F(ServiceTest, TokensAreShownOnceAndCheckedByHash) {
  auto made = add_token(e, "grafana", true);
  const std::string token = made["token"];
  EXPECT_EQ(made["read_only"], true);
  auto found = check_token(e, token);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "grafana");
  EXPECT_TRUE(found->read_only);
  EXPECT_NE(found->hash, token);
  EXPECT_FALSE(check_token(e, token + "x"));
  EXPECT_FALSE(list_tokens(e)[0].contains("token"));
  EXPECT_EQ(kind_of([&] { add_token(e, "grafana", false); }), error::kind::conflict);
  revoke_token(e, "grafana");
  EXPECT_FALSE(check_token(e, token));
}

TEST_F(ServiceTest, StatisticsCountFromEventsInQuarterHours) {
  auto j = statistics(e, "", std::nullopt);
  EXPECT_EQ(j["bucket_seconds"], 900);
  EXPECT_TRUE(j["data_points"].empty());
  EXPECT_EQ(kind_of([&] {
              event_filter f;
              f.type = "opened";
              list_events(e, f);
            }),
            error::kind::invalid);
}

}  // namespace
}  // namespace smtpsd::service
