// One suite for every store backend: the same calls, the same answers.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <set>

#include <fmt/format.h>

#include "base/ids.hpp"
#include "base/time_format.hpp"
#include "store/embedded/sqlite_stores.hpp"
#include "store/memory/memory_stores.hpp"
#include "store/postgres/pg_stores.hpp"
#include "store/postgres/testing/pg_instance.hpp"

using namespace smtpsd;
using namespace smtpsd::store;

namespace {

struct backend {
  std::string name;
  std::function<stores(const std::filesystem::path&)> open;
};

class store_conformance : public ::testing::TestWithParam<backend> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/smtpsd-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    s_ = GetParam().open(dir_ / "data");
  }
  void TearDown() override {
    s_ = {};
    std::filesystem::remove_all(dir_);
  }
  stores reopen() {
    s_ = {};
    return GetParam().open(dir_ / "data");
  }
  std::filesystem::path dir_;
  stores s_;
};

queued_message sample(std::string id, std::int64_t account_id) {
  queued_message m;
  m.id = std::move(id);
  m.account_id = account_id;
  m.account = "acme";
  m.from = "alice@example.com";
  m.size = 1234;
  m.created = base::from_unix_seconds(1'800'000'000);
  m.message_id = "<x@y>";
  m.envid = "E1";
  m.ret = base::dsn_ret::hdrs;
  m.body = base::body_type::eight_bit_mime;
  m.smtputf8 = true;
  m.tls = base::tls_demand::required;
  m.recipients.push_back({"bob@example.org", "rfc822;bob@example.org", base::dsn_notify(4), rcpt_status::queued, 0, m.created, "", std::nullopt});
  m.recipients.push_back({"carol@example.net", "", base::dsn_notify{}, rcpt_status::queued, 0, m.created, "", std::nullopt});
  return m;
}

}  // namespace

TEST_P(store_conformance, accounts_round_trip) {
  auto& a = *s_.accounts;
  auto g0 = a.generation();
  account in;
  in.name = "acme";
  in.max_send_rate = 2.5;
  in.max_24h = 1000;
  in.created = base::from_unix_seconds(1'800'000'000);
  auto created = a.create_account(in);
  ASSERT_TRUE(created);
  EXPECT_GT(created->id, 0);
  EXPECT_FALSE(a.create_account(in)) << "duplicate names are refused";
  EXPECT_GT(a.generation(), g0);
  auto found = a.find_account("acme");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->max_send_rate, 2.5);
  EXPECT_EQ(found->max_24h, 1000u);
  EXPECT_FALSE(found->max_message_bytes);
  EXPECT_EQ(found->created, in.created);
  found->suspended = true;
  found->max_24h.reset();
  EXPECT_TRUE(a.update_account(*found));
  auto again = a.find_account("acme");
  EXPECT_TRUE(again->suspended);
  EXPECT_FALSE(again->max_24h);
  EXPECT_EQ(a.list_accounts().size(), 1u);
  EXPECT_FALSE(a.find_account("nobody"));
}

TEST_P(store_conformance, sandbox_pause_and_reputation_figures) {
  auto& a = *s_.accounts;
  account in;
  in.name = "acme";
  in.sandbox = true;
  in.allowed_recipients = {"a@x.test", "b@y.test"};
  auto acme = a.create_account(in).value();
  auto found = a.find_account("acme").value();
  EXPECT_EQ(a.find_account(acme.id).value().name, "acme") << "found by id too (a VERP address names the id)";
  EXPECT_FALSE(a.find_account(acme.id + 1000));
  EXPECT_TRUE(found.sandbox);
  EXPECT_EQ(found.allowed_recipients, in.allowed_recipients);
  EXPECT_EQ(found.paused, "");
  const auto g = a.generation();
  found.paused = "bounce rate 12.0 % over the last 500 recipients";
  found.reputation_warning = "bounce rate 6.0 %";
  found.reputation_since = base::from_unix_seconds(1'800'000'000);
  found.sandbox = false;
  found.allowed_recipients.clear();
  ASSERT_TRUE(a.update_account(found));
  EXPECT_GT(a.generation(), g) << "a pause reaches every server's cache";
  auto again = a.find_account("acme").value();
  EXPECT_EQ(again.paused, found.paused);
  EXPECT_EQ(again.reputation_warning, found.reputation_warning);
  EXPECT_EQ(again.reputation_since, found.reputation_since);
  EXPECT_FALSE(again.sandbox);
  EXPECT_TRUE(again.allowed_recipients.empty());

  const auto h1 = base::from_unix_seconds(1'800'000'000), h2 = base::from_unix_seconds(1'800'003'600);
  std::vector<reputation_delta> d = {{acme.id, {h1, 100, 3, 0}}, {acme.id, {h2, 50, 0, 1}}, {acme.id, {h1, 10, 1, 0}}};
  a.add_reputation(d);
  auto b = a.reputation(acme.id, h1);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].hour, h2) << "newest first";
  EXPECT_EQ(b[0].complaints, 1u);
  EXPECT_EQ(b[1].recipients, 110u) << "deltas add up";
  EXPECT_EQ(b[1].bounces, 4u);
  EXPECT_EQ(a.reputation(acme.id, h2).size(), 1u);
  EXPECT_TRUE(a.reputation(acme.id + 1000, h1).empty());
}

TEST_P(store_conformance, credentials_and_logins) {
  auto& a = *s_.accounts;
  account in;
  in.name = "acme";
  auto acct = a.create_account(in).value();
  ASSERT_TRUE(a.create_credential(acct.id, "user1", "$argon2id$hash1", "SCRAM-SHA-256$4096:c2FsdA==$a:b"));
  EXPECT_FALSE(a.create_credential(acct.id, "user1", "$argon2id$other", ""));
  auto l = a.find_login("user1");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->cred.hash, "$argon2id$hash1");
  EXPECT_EQ(l->cred.scram, "SCRAM-SHA-256$4096:c2FsdA==$a:b");
  EXPECT_EQ(l->acct.name, "acme");
  ASSERT_EQ(a.list_credentials(acct.id).size(), 1u);
  EXPECT_EQ(a.list_credentials(acct.id)[0].scram, "SCRAM-SHA-256$4096:c2FsdA==$a:b");
  auto g = a.generation();
  EXPECT_TRUE(a.revoke_credential("user1"));
  EXPECT_GT(a.generation(), g);
  EXPECT_FALSE(a.find_login("user1"));
  EXPECT_FALSE(a.revoke_credential("user1"));
  ASSERT_TRUE(a.create_credential(acct.id, "user2", "h", ""));
  EXPECT_TRUE(a.remove_account("acme"));
  EXPECT_FALSE(a.find_login("user2")) << "credentials go with their account";
}

TEST_P(store_conformance, queue_enqueue_get_list_remove) {
  auto& q = *s_.queue;
  auto id1 = base::make_queue_id(base::from_unix_seconds(1'800'000'000), 1);
  auto id2 = base::make_queue_id(base::from_unix_seconds(1'800'000'001), 1);
  std::vector<queued_message> batch{sample(id2, 7), sample(id1, 7)};
  q.enqueue(batch);
  EXPECT_EQ(q.count(), 2u);
  auto m = q.get(id1);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->from, "alice@example.com");
  EXPECT_EQ(m->envid, "E1");
  EXPECT_TRUE(m->smtputf8);
  EXPECT_EQ(m->tls, base::tls_demand::required);
  ASSERT_EQ(m->recipients.size(), 2u);
  EXPECT_EQ(m->recipients[0].orcpt, "rfc822;bob@example.org");
  EXPECT_EQ(m->recipients[0].notify, base::dsn_notify(base::dsn_notify::failure));
  EXPECT_EQ(m->recipients[1].address, "carol@example.net");
  auto all = q.list(0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, id1) << "oldest first";
  EXPECT_EQ(q.list(1).size(), 1u);
  EXPECT_EQ(q.retry(id1, base::from_unix_seconds(1'900'000'000)), 2u);
  EXPECT_EQ(q.get(id1)->recipients[0].next_attempt, base::from_unix_seconds(1'900'000'000));
  EXPECT_TRUE(q.remove(id1));
  EXPECT_FALSE(q.get(id1));
  EXPECT_EQ(q.count(), 1u);
}

// A store whose commits may skip their sync (the embedded one) records how
// far the spool holds replay data for them; the others record nothing.
TEST_P(store_conformance, a_covered_enqueue_records_its_spool_position_where_the_store_keeps_one) {
  auto& q = *s_.queue;
  auto id1 = base::make_queue_id(base::from_unix_seconds(1'800'000'000), 21);
  auto id2 = base::make_queue_id(base::from_unix_seconds(1'800'000'000), 22);
  const spool_position at{3, 8192};
  q.enqueue(std::vector<queued_message>{sample(id1, 1)}, {}, {}, spool_cover{at, true});
  EXPECT_TRUE(q.get(id1)) << "queued either way";
  if (GetParam().name != "embedded") {
    EXPECT_FALSE(q.replayed_through()) << "its commits are durable on their own";
    return;
  }
  ASSERT_TRUE(q.replayed_through());
  EXPECT_EQ(*q.replayed_through(), at);
  q.enqueue(std::vector<queued_message>{sample(id2, 1)});
  EXPECT_EQ(*q.replayed_through(), at) << "an enqueue without a cover leaves it";
  auto again = reopen();
  EXPECT_EQ(*again.queue->replayed_through(), at);
  EXPECT_TRUE(again.queue->get(id1));
}

TEST_P(store_conformance, enqueue_is_all_or_nothing) {
  auto& q = *s_.queue;
  auto id = base::make_queue_id(base::from_unix_seconds(1'800'000'000), 9);
  q.enqueue(std::vector<queued_message>{sample(id, 1)});
  auto id2 = base::make_queue_id(base::from_unix_seconds(1'800'000'000), 10);
  std::vector<queued_message> batch{sample(id2, 1), sample(id, 1)};  // the second collides
  EXPECT_THROW(q.enqueue(batch), store_error);
  EXPECT_FALSE(q.get(id2));
}

TEST_P(store_conformance, spool_write_sync_read) {
  auto& sp = *s_.bodies;
  auto id = base::make_queue_id(base::from_unix_seconds(1'800'000'000), 3);
  auto w = sp.create(id);
  std::string big(700000, 'b');  // several PostgreSQL chunks and a tail
  w->write_body("line one\r\n");
  w->write_body(big);
  w->finish("Subject: s\r\n");
  spool_writer* entries[] = {w.get()};
  sp.sync(entries);
  w.reset();
  auto r = sp.open(id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header_section(), "Subject: s\r\n");
  EXPECT_EQ(r->body_size(), 10 + big.size());
  EXPECT_EQ(r->read_all(), "Subject: s\r\n\r\nline one\r\n" + big);
  EXPECT_EQ(sp.ids(), std::vector<std::string>{id});
  sp.remove(id);
  EXPECT_FALSE(sp.open(id));
  sp.remove(id);  // removing twice is fine
}

TEST_P(store_conformance, spool_refuses_incomplete_entries) {
  auto& sp = *s_.bodies;
  auto id = base::make_queue_id(base::from_unix_seconds(1'800'000'000), 4);
  auto w = sp.create(id);
  w->write_body(std::string(300000, 'x'));  // more than a PostgreSQL chunk: some of it is stored
  w.reset();  // abandoned before finish()
  EXPECT_THROW(sp.open(id), store_error);
}

TEST_P(store_conformance, data_survives_reopen) {
  if (GetParam().name == "memory") GTEST_SKIP() << "memory does not persist";
  account in;
  in.name = "acme";
  s_.accounts->create_account(in);
  auto id = base::make_queue_id(base::from_unix_seconds(1'800'000'000), 5);
  s_.queue->enqueue(std::vector<queued_message>{sample(id, 1)});
  auto s = reopen();
  EXPECT_TRUE(s.accounts->find_account("acme"));
  EXPECT_TRUE(s.queue->get(id));
  const auto secret = s.accounts->installation_secret();
  EXPECT_EQ(secret.size(), 32u);
  EXPECT_EQ(reopen().accounts->installation_secret(), secret) << "made once, then the same for every process";
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "the data directory is private";
}

TEST_P(store_conformance, identities_per_account) {
  auto& a = *s_.accounts;
  account in;
  in.name = "acme";
  auto acme = a.create_account(in).value();
  in.name = "other";
  auto other = a.create_account(in).value();
  auto g = a.generation();
  ASSERT_TRUE(a.add_identity(acme.id, "example.com", identity_kind::domain));
  EXPECT_GT(a.generation(), g);
  EXPECT_FALSE(a.add_identity(acme.id, "example.com", identity_kind::domain));
  EXPECT_TRUE(a.add_identity(other.id, "example.com", identity_kind::domain)) << "per account";
  ASSERT_TRUE(a.add_identity(acme.id, "Bob@example.org", identity_kind::address));
  auto ids = a.list_identities(acme.id);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].value, "Bob@example.org");
  EXPECT_EQ(ids[0].kind, identity_kind::address);
  EXPECT_TRUE(a.remove_identity(acme.id, "example.com"));
  EXPECT_FALSE(a.remove_identity(acme.id, "example.com"));
  EXPECT_EQ(a.list_identities(acme.id).size(), 1u);
  EXPECT_EQ(a.list_identities(other.id).size(), 1u);
  a.remove_account("acme");
  EXPECT_TRUE(a.list_identities(acme.id).empty());
}

TEST_P(store_conformance, suppression_list_is_case_insensitive) {
  auto& s = *s_.suppressions;
  auto t = base::from_unix_seconds(1'800'000'000);
  EXPECT_TRUE(s.add("Bounce@Example.org", "550 5.1.1 no such user", t));
  EXPECT_FALSE(s.add("bounce@example.org", "manual", t));
  auto e = s.find("BOUNCE@example.ORG");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->address, "bounce@example.org");
  EXPECT_EQ(e->reason, "550 5.1.1 no such user");
  EXPECT_EQ(s.list().size(), 1u);
  EXPECT_TRUE(s.remove("bounce@EXAMPLE.org"));
  EXPECT_FALSE(s.find("bounce@example.org"));
}

TEST_P(store_conformance, suppression_generation_moves_with_each_change_only) {
  auto& s = *s_.suppressions;
  auto t = base::from_unix_seconds(1'800'000'000);
  const auto g0 = s.generation();
  EXPECT_TRUE(s.add("a@example.org", "manual", t));
  const auto g1 = s.generation();
  EXPECT_GT(g1, g0);
  EXPECT_FALSE(s.add("A@example.org", "manual", t));
  EXPECT_FALSE(s.remove("nobody@example.org"));
  EXPECT_EQ(s.generation(), g1) << "a call that changed nothing moved the generation";
  EXPECT_TRUE(s.remove("a@example.org"));
  EXPECT_GT(s.generation(), g1);
}

TEST_P(store_conformance, the_change_signal_moves_after_every_change_a_server_may_have_read) {
  auto& a = *s_.accounts;
  const auto* sig = a.changes();
  if (!sig) GTEST_SKIP() << GetParam().name << " has none: its changes also come from other nodes";
  // Another process's view: its own mapping of the same count (embedded).
  stores other = GetParam().name == "memory" ? s_ : GetParam().open(dir_ / "data");
  const auto* seen_elsewhere = other.accounts->changes();
  ASSERT_TRUE(seen_elsewhere);
  auto moves = [&](const char* what, auto&& change) {
    const auto before = sig->value();
    const auto before_elsewhere = seen_elsewhere->value();
    change();
    EXPECT_GT(sig->value(), before) << what;
    EXPECT_GT(seen_elsewhere->value(), before_elsewhere) << what << ", seen by another opening of the store";
  };
  account acct;
  acct.name = "acme";
  moves("create_account", [&] { acct = *a.create_account(acct); });
  moves("update_account", [&] {
    acct.suspended = true;
    a.update_account(acct);
  });
  moves("create_credential", [&] { a.create_credential(acct.id, "user1", "hash", ""); });
  moves("revoke_credential", [&] { a.revoke_credential("user1"); });
  moves("add_identity", [&] { a.add_identity(acct.id, "example.com", identity_kind::domain); });
  moves("remove_identity", [&] { a.remove_identity(acct.id, "example.com"); });
  moves("create_token", [&] { a.create_token({"deploy", "ab12", false, base::from_unix_seconds(1'800'000'000)}); });
  moves("revoke_token", [&] { a.revoke_token("deploy"); });
  moves("write_shared_file", [&] { a.write_shared_file("keys/a.pem", "x"); });
  moves("remove_shared_file", [&] { a.remove_shared_file("keys/a.pem"); });
  moves("suppression add", [&] { s_.suppressions->add("a@example.org", "manual", base::from_unix_seconds(1'800'000'000)); });
  moves("suppression remove", [&] { s_.suppressions->remove("a@example.org"); });
  moves("remove_account", [&] { a.remove_account("acme"); });
  const auto still = sig->value();
  a.find_login("user1");
  a.list_accounts();
  a.generation();
  s_.suppressions->find("a@example.org");
  EXPECT_FALSE(s_.suppressions->remove("a@example.org"));
  EXPECT_EQ(sig->value(), still) << "reads, and a call that changed nothing, leave it";
}

TEST_P(store_conformance, enqueue_counts_usage_per_minute) {
  auto& q = *s_.queue;
  auto t = base::from_unix_seconds(1'800'000'000 / 60 * 60);
  auto m1 = sample(base::make_queue_id(t, 1), 42);
  m1.created = t + std::chrono::seconds(5);
  auto m2 = sample(base::make_queue_id(t, 2), 42);
  m2.created = t + std::chrono::seconds(50);
  auto m3 = sample(base::make_queue_id(t, 3), 42);
  m3.created = t + std::chrono::seconds(65);
  q.enqueue(std::vector<queued_message>{m1, m2});
  q.enqueue(std::vector<queued_message>{m3});
  auto u = q.usage(42, t - std::chrono::hours(24));
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].minute, t);
  EXPECT_EQ(u[0].count, 4u) << "two messages of two recipients";
  EXPECT_EQ(u[1].count, 2u);
  EXPECT_EQ(q.usage(42, t + std::chrono::seconds(60)).size(), 1u);
  EXPECT_TRUE(q.usage(7, t).empty());
}

TEST_P(store_conformance, one_enqueue_counts_each_account_and_minute) {
  auto& q = *s_.queue;
  auto t = base::from_unix_seconds(1'800'000'000 / 60 * 60);
  std::vector<queued_message> batch;
  for (int i = 0; i < 5; ++i) {
    auto m = sample(base::make_queue_id(t, 10 + static_cast<unsigned>(i)), i % 2 ? 7 : 42);
    m.created = t + std::chrono::seconds(i * 20);  // minutes t, t, t, t+1, t+1 (accounts 42, 7, 42, 7, 42)
    batch.push_back(m);
  }
  q.enqueue(batch);
  auto u42 = q.usage(42, t - std::chrono::hours(1));
  ASSERT_EQ(u42.size(), 2u);
  EXPECT_EQ(u42[0].minute, t);
  EXPECT_EQ(u42[0].count, 4u) << "two messages of two recipients";
  EXPECT_EQ(u42[1].count, 2u);
  auto u7 = q.usage(7, t - std::chrono::hours(1));
  ASSERT_EQ(u7.size(), 2u);
  EXPECT_EQ(u7[0].count, 2u);
  EXPECT_EQ(u7[1].count, 2u);
}

TEST_P(store_conformance, claim_lease_record) {
  auto& q = *s_.queue;
  const auto t0 = base::from_unix_seconds(1'800'000'000);
  auto fresh = sample(base::make_queue_id(t0, 1), 1);
  auto retried = sample(base::make_queue_id(t0, 2), 1);
  for (auto& r : retried.recipients) r.attempts = 2;
  auto later = sample(base::make_queue_id(t0, 3), 1);
  for (auto& r : later.recipients) r.next_attempt = t0 + std::chrono::hours(1);
  q.enqueue(std::vector<queued_message>{fresh, retried, later});

  auto got = q.claim_due(t0, t0 + std::chrono::seconds(60), 10);
  ASSERT_EQ(got.size(), 2u) << "the one due in an hour is not due";
  EXPECT_EQ(got[0].recipients.size(), 2u);
  EXPECT_TRUE(q.claim_due(t0 + std::chrono::seconds(30), t0 + std::chrono::seconds(90), 10).empty())
      << "leased messages are not handed out twice";

  // One recipient delivered, one deferred: the message stays, unleased.
  auto m = *q.get(fresh.id);
  m.recipients[0].status = rcpt_status::delivered;
  m.recipients[0].attempts = 1;
  m.recipients[0].last_response = "250 2.0.0 ok";
  m.recipients[1].status = rcpt_status::deferred;
  m.recipients[1].attempts = 1;
  m.recipients[1].next_attempt = t0 + std::chrono::seconds(300);
  m.recipients[1].delay_warned = t0 + std::chrono::seconds(20);
  m.lease_token = got[0].id == fresh.id ? got[0].lease_token : got[1].lease_token;
  EXPECT_EQ(q.record_attempt(m), recorded::open);
  auto back = q.get(fresh.id);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->recipients[0].delay_warned);
  EXPECT_EQ(back->recipients[1].delay_warned, t0 + std::chrono::seconds(20)) << "when its last delay DSN went";
  EXPECT_EQ(back->recipients[0].status, rcpt_status::delivered);
  EXPECT_EQ(back->recipients[0].last_response, "250 2.0.0 ok");
  EXPECT_EQ(back->recipients[1].next_attempt, t0 + std::chrono::seconds(300));
  auto expired = q.claim_due(t0 + std::chrono::seconds(299), t0 + std::chrono::seconds(400), 10);
  ASSERT_EQ(expired.size(), 1u) << "only the message whose lease ran out";
  EXPECT_EQ(expired[0].id, retried.id);

  // The other lease expires; a restart releases leases at once.
  q.release_leases();
  auto again = q.claim_due(t0 + std::chrono::seconds(300), t0 + std::chrono::seconds(400), 10);
  ASSERT_EQ(again.size(), 2u);

  m.recipients[1].status = rcpt_status::failed;
  EXPECT_EQ(q.record_attempt(m), recorded::lost) << "claimed again since: the old delivery's outcome is fenced off";
  EXPECT_EQ(q.get(fresh.id)->recipients[1].status, rcpt_status::deferred);
  m.lease_token = again[0].id == fresh.id ? again[0].lease_token : again[1].lease_token;
  EXPECT_EQ(q.record_attempt(m), recorded::finished) << "nothing left to deliver: removed";
  EXPECT_FALSE(q.get(fresh.id));
}

TEST_P(store_conformance, leases_renew_and_fence) {
  auto& q = *s_.queue;
  const auto t0 = base::from_unix_seconds(1'800'000'000);
  auto m = sample(base::make_queue_id(t0, 1), 1);
  q.enqueue(std::vector<queued_message>{m});
  auto got = q.claim_due(t0, t0 + std::chrono::seconds(60), 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].lease_token, 0);
  const lease_ref held{got[0].id, got[0].lease_token};
  EXPECT_EQ(q.renew_leases(std::span(&held, 1), t0 + std::chrono::seconds(120)), std::vector<bool>{true});
  EXPECT_TRUE(q.claim_due(t0 + std::chrono::seconds(90), t0 + std::chrono::seconds(150), 10).empty())
      << "a renewed lease holds past its first end";
  auto taken = q.claim_due(t0 + std::chrono::seconds(121), t0 + std::chrono::seconds(180), 10);
  ASSERT_EQ(taken.size(), 1u) << "a lease that was not renewed runs out";
  EXPECT_GT(taken[0].lease_token, got[0].lease_token) << "each claim a new, larger token";
  EXPECT_EQ(q.renew_leases(std::span(&held, 1), t0 + std::chrono::seconds(240)), std::vector<bool>{false})
      << "the first holder cannot renew what was taken over";
  auto done = got[0];
  for (auto& r : done.recipients) r.status = rcpt_status::delivered;
  EXPECT_EQ(q.record_attempts(std::vector<queued_message>{done},
                              std::vector<std::vector<stored_event>>{{}})[0],
            recorded::lost);
  EXPECT_TRUE(q.get(m.id)) << "the fenced-off outcome changed nothing";
  EXPECT_TRUE(s_.events->read_after(0, 10).empty());
}

TEST_P(store_conformance, one_claim_gives_each_message_its_own_token) {
  auto& q = *s_.queue;
  const auto t0 = base::from_unix_seconds(1'800'000'000);
  std::vector<queued_message> batch;
  for (int i = 1; i <= 4; ++i) batch.push_back(sample(base::make_queue_id(t0, static_cast<std::uint32_t>(i)), 1));
  q.enqueue(batch);
  auto first = q.claim_due(t0, t0 + std::chrono::seconds(60), 2);
  auto second = q.claim_due(t0, t0 + std::chrono::seconds(60), 10);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(second.size(), 2u);
  std::set<std::int64_t> tokens;
  for (const auto& m : first) tokens.insert(m.lease_token);
  for (const auto& m : second) {
    EXPECT_GT(m.lease_token, std::max(first[0].lease_token, first[1].lease_token)) << "a later claim, larger tokens";
    tokens.insert(m.lease_token);
  }
  EXPECT_EQ(tokens.size(), 4u) << "no two claimed messages share a fencing token";
  EXPECT_EQ(tokens.count(0), 0u);
  for (const auto& m : second) EXPECT_EQ(q.get(m.id)->lease_token, m.lease_token) << "the stored token is the one handed out";
}

TEST_P(store_conformance, enqueue_can_lease_what_it_queues) {
  auto& q = *s_.queue;
  const auto t0 = base::from_unix_seconds(1'800'000'000);
  q.enqueue(std::vector<queued_message>{sample(base::make_queue_id(t0, 9), 1)});
  auto claimed = q.claim_due(t0, t0 + std::chrono::seconds(60), 10);  // an earlier claim's token, to compare with
  ASSERT_EQ(claimed.size(), 1u);
  std::vector<queued_message> batch;
  for (int i = 1; i <= 3; ++i) batch.push_back(sample(base::make_queue_id(t0, static_cast<std::uint32_t>(i)), 1));
  const auto tokens = q.enqueue(batch, {}, enqueue_lease{2, t0 + std::chrono::seconds(60)});
  ASSERT_EQ(tokens.size(), 2u) << "one token per leased message";
  EXPECT_GT(std::min(tokens[0], tokens[1]), claimed[0].lease_token) << "larger than an earlier claim's";
  EXPECT_NE(tokens[0], tokens[1]) << "each its own";
  EXPECT_EQ(q.get(batch[0].id)->lease_token, tokens[0]) << "the stored token is the one handed out";
  EXPECT_EQ(q.get(batch[1].id)->lease_token, tokens[1]);
  auto rest = q.claim_due(t0, t0 + std::chrono::seconds(60), 10);
  ASSERT_EQ(rest.size(), 1u) << "the leased ones are not claimed again";
  EXPECT_EQ(rest[0].id, batch[2].id);
  EXPECT_GT(rest[0].lease_token, std::max(tokens[0], tokens[1])) << "a later claim, larger tokens";

  auto done = batch[0];
  done.lease_token = tokens[0];
  for (auto& r : done.recipients) r.status = rcpt_status::delivered;
  EXPECT_EQ(q.record_attempt(done), recorded::finished) << "an outcome under the enqueue's lease is recorded";
  const lease_ref held{batch[1].id, tokens[1]};
  EXPECT_EQ(q.renew_leases(std::span(&held, 1), t0 + std::chrono::seconds(120)), std::vector<bool>{true});
  auto after = q.claim_due(t0 + std::chrono::seconds(61), t0 + std::chrono::seconds(180), 10);
  for (const auto& m : after) EXPECT_NE(m.id, batch[1].id) << "a renewed enqueue lease holds";
  EXPECT_TRUE(q.enqueue(std::vector<queued_message>{sample(base::make_queue_id(t0, 7), 1)}).empty())
      << "no lease asked, no tokens";
}

TEST_P(store_conformance, claim_shares_between_new_and_retried) {
  auto& q = *s_.queue;
  const auto t0 = base::from_unix_seconds(1'800'000'000);
  std::vector<queued_message> batch;
  for (std::uint32_t i = 0; i < 6; ++i) {
    auto m = sample(base::make_queue_id(t0, i), 1);
    if (i < 4)
      for (auto& r : m.recipients) r.attempts = 1;  // four retries, two new
    batch.push_back(m);
  }
  q.enqueue(batch);
  auto got = q.claim_due(t0, t0 + std::chrono::seconds(60), 4);
  ASSERT_EQ(got.size(), 4u);
  int news = 0;
  for (auto& m : got) news += m.recipients[0].attempts == 0;
  EXPECT_EQ(news, 2) << "half the window for new mail";
}

namespace {
stored_event sample_event(std::string id, std::string type, std::int64_t minute, std::string account = "acme") {
  stored_event e;
  e.id = std::move(id);
  e.type = std::move(type);
  e.time = base::from_unix_seconds(1'800'000'000 + minute * 60);
  e.account = std::move(account);
  e.record = "{\"event_id\":\"" + e.id + "\"}";
  return e;
}
}  // namespace

TEST_P(store_conformance, events_in_order_with_cursors) {
  auto& ev = *s_.events;
  EXPECT_EQ(ev.last_seq(), 0);
  std::vector<stored_event> batch{sample_event("e1", "send", 0), sample_event("e2", "delivery", 1),
                                  sample_event("e3", "reject", 2, "other")};
  auto seqs = ev.append(batch);
  ASSERT_EQ(seqs.size(), 3u);
  EXPECT_LT(seqs[0], seqs[1]);
  EXPECT_LT(seqs[1], seqs[2]);
  EXPECT_EQ(ev.last_seq(), seqs[2]);
  auto after = ev.read_after(seqs[0], 10);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].id, "e2");
  EXPECT_EQ(after[0].type, "delivery");
  EXPECT_EQ(after[0].record, "{\"event_id\":\"e2\"}");
  EXPECT_EQ(after[0].time, base::from_unix_seconds(1'800'000'060));
  EXPECT_EQ(ev.read_after(0, 1).size(), 1u) << "limit";

  EXPECT_FALSE(ev.cursor("hook"));
  ev.set_cursor("hook", seqs[1]);
  ev.set_cursor("hook", seqs[0]);
  EXPECT_EQ(ev.cursor("hook"), seqs[0]);

  event_query q;
  q.type = "send";
  EXPECT_EQ(ev.query(q).size(), 1u);
  q = {};
  q.account = "other";
  ASSERT_EQ(ev.query(q).size(), 1u);
  EXPECT_EQ(ev.query(q)[0].id, "e3");
  q = {};
  q.limit = 2;
  auto newest = ev.query(q);
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].id, "e3") << "newest first";
  q.before_seq = newest[1].seq;
  ASSERT_EQ(ev.query(q).size(), 1u);
  EXPECT_EQ(ev.query(q)[0].id, "e1") << "the next page";
  q = {};
  q.since = base::from_unix_seconds(1'800'000'060);
  q.until = base::from_unix_seconds(1'800'000'060);
  ASSERT_EQ(ev.query(q).size(), 1u);
  EXPECT_EQ(ev.query(q)[0].id, "e2");
}

TEST_P(store_conformance, dead_letters_are_kept_until_redelivered) {
  auto& ev = *s_.events;
  auto seqs = ev.append(std::vector<stored_event>{sample_event("e1", "bounce", 0), sample_event("e2", "send", 1)});
  const auto when = base::from_unix_seconds(1'900'000'000);
  ev.add_dead_letter("a", seqs[0], "HTTP 400", when);
  ev.add_dead_letter("b", seqs[0], "timed out", when);
  ev.add_dead_letter("b", seqs[1], "HTTP 410", when);
  auto all = ev.dead_letters("");
  EXPECT_EQ(all.size(), 3u);
  auto b = ev.dead_letters("b");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].event.id, "e1");
  EXPECT_EQ(b[0].reason, "timed out");
  EXPECT_FALSE(b[0].redeliver);
  EXPECT_EQ(ev.request_redelivery("b", "e2"), 1u);
  EXPECT_TRUE(ev.dead_letters("b")[1].redeliver);
  EXPECT_FALSE(ev.dead_letters("b")[0].redeliver);
  EXPECT_EQ(ev.request_redelivery("", ""), 3u);
  ev.remove_dead_letter("b", seqs[1]);
  EXPECT_EQ(ev.dead_letters("b").size(), 1u);
}

TEST_P(store_conformance, prune_keeps_what_a_cursor_or_a_dead_letter_needs) {
  auto& ev = *s_.events;
  auto seqs = ev.append(std::vector<stored_event>{sample_event("e1", "send", 0), sample_event("e2", "send", 1),
                                                  sample_event("e3", "send", 2), sample_event("e4", "send", 500)});
  ev.set_cursor("hook", seqs[2]);
  ev.add_dead_letter("hook", seqs[0], "HTTP 400", base::from_unix_seconds(1'900'000'000));
  EXPECT_EQ(ev.prune(base::from_unix_seconds(1'800'000'000 + 100 * 60)), 2u) << "e2 and e3";
  auto left = ev.read_after(0, 10);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].id, "e1") << "held by a dead letter";
  EXPECT_EQ(left[1].id, "e4") << "too new";
  EXPECT_EQ(ev.last_seq(), seqs[3]) << "numbers are never reused";
  ev.append(std::vector<stored_event>{sample_event("e5", "send", 501)});
  EXPECT_GT(ev.last_seq(), seqs[3]);
}

TEST_P(store_conformance, queue_changes_and_their_events_are_stored_together) {
  auto id = base::make_queue_id(base::from_unix_seconds(1'800'000'000), 9);
  auto m = sample(id, 1);
  m.configuration_set = "marketing";
  m.tags = {{"campaign", "fall-2026"}, {"team", "growth"}};
  m.client_ip = "192.0.2.7";
  s_.queue->enqueue(std::vector<queued_message>{m}, std::vector<stored_event>{sample_event("sent", "send", 0)});
  auto got = s_.queue->get(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->configuration_set, "marketing");
  EXPECT_EQ(got->tags, m.tags);
  EXPECT_EQ(got->client_ip, "192.0.2.7");
  ASSERT_EQ(s_.events->read_after(0, 10).size(), 1u);
  m.recipients[0].status = rcpt_status::delivered;
  m.recipients[1].status = rcpt_status::delivered;
  EXPECT_EQ(s_.queue->record_attempts(std::vector<queued_message>{m}, std::vector<std::vector<stored_event>>{
                                                                         {sample_event("done", "delivery", 1)}})[0],
            recorded::finished);
  auto evs = s_.events->read_after(0, 10);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[1].id, "done");
}

TEST_P(store_conformance, an_account_keeps_its_default_configuration_set) {
  account in;
  in.name = "acme";
  auto a = *s_.accounts->create_account(in);
  EXPECT_EQ(a.configuration_set, "");
  a.configuration_set = "transactional";
  ASSERT_TRUE(s_.accounts->update_account(a));
  EXPECT_EQ(s_.accounts->find_account("acme")->configuration_set, "transactional");
}

TEST_P(store_conformance, queue_pages_with_filters) {
  auto& q = *s_.queue;
  const auto t0 = base::from_unix_seconds(1'800'000'000);
  std::vector<queued_message> batch;
  for (std::uint32_t i = 0; i < 25; ++i) {
    auto m = sample(base::make_queue_id(t0 + std::chrono::seconds(i), i), 1);
    m.account = i % 2 ? "odd" : "even";
    if (i == 7) {
      m.recipients[0].status = rcpt_status::deferred;
      m.recipients[1].address = "Needle@Example.net";
    }
    if (i == 20) m.recipients[0].address = "needle@example.net";
    batch.push_back(m);
  }
  q.enqueue(batch);
  queue_query page;
  page.limit = 10;
  std::vector<std::string> seen;
  for (;;) {
    auto got = q.list(page);
    for (auto& m : got) seen.push_back(m.id);
    if (got.size() < page.limit) break;
    page.after = got.back().id;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end())) << "oldest first";
  EXPECT_EQ(seen.front(), batch[0].id);
  queue_query odd;
  odd.account = "odd";
  odd.limit = 100;
  EXPECT_EQ(q.list(odd).size(), 12u);
  queue_query deferred;
  deferred.status = rcpt_status::deferred;
  ASSERT_EQ(q.list(deferred).size(), 1u);
  EXPECT_EQ(q.list(deferred)[0].id, batch[7].id);
  queue_query to;
  to.recipient = "needle@example.NET";
  to.limit = 1;
  ASSERT_EQ(q.list(to).size(), 1u);
  EXPECT_EQ(q.list(to)[0].id, batch[7].id);
  EXPECT_EQ(q.list(to)[0].recipients.size(), 2u) << "with every recipient";
  to.after = batch[7].id;
  ASSERT_EQ(q.list(to).size(), 1u) << "the cursor pages a recipient's messages";
  EXPECT_EQ(q.list(to)[0].id, batch[20].id);
  to.after = batch[20].id;
  EXPECT_TRUE(q.list(to).empty());
  to.after.clear();
  to.limit = 10;
  to.account = "even";
  ASSERT_EQ(q.list(to).size(), 1u) << "recipient and account together";
  EXPECT_EQ(q.list(to)[0].id, batch[20].id);
}

TEST_P(store_conformance, suppression_pages_by_prefix) {
  auto& sp = *s_.suppressions;
  const auto when = base::from_unix_seconds(1'800'000'000);
  for (auto* a : {"carol@example.org", "alice@example.org", "bob@example.org", "alex@example.com", "Zed@Example.com"})
    sp.add(a, "manual", when);
  EXPECT_EQ(sp.count(), 5u);
  auto first = sp.list("", 2, "");
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].address, "alex@example.com");
  EXPECT_EQ(first[1].address, "alice@example.org");
  auto next = sp.list(first.back().address, 10, "");
  ASSERT_EQ(next.size(), 3u);
  EXPECT_EQ(next.back().address, "zed@example.com");
  auto al = sp.list("", 10, "AL");
  ASSERT_EQ(al.size(), 2u) << "a prefix, case-insensitive";
  EXPECT_EQ(sp.list("alex@example.com", 10, "al").size(), 1u);
  EXPECT_EQ(sp.list("aa", 10, "al").size(), 2u) << "a cursor before the prefix";
  EXPECT_TRUE(sp.list("b", 10, "al").empty()) << "a cursor past the prefix";
  EXPECT_EQ(sp.list().size(), 5u);
}

TEST_P(store_conformance, api_tokens_by_hash) {
  auto& a = *s_.accounts;
  const auto g0 = a.generation();
  api_token tk{"deploy", "ab12", true, base::from_unix_seconds(1'800'000'000)};
  EXPECT_TRUE(a.create_token(tk));
  EXPECT_FALSE(a.create_token(tk)) << "names are unique";
  auto found = a.find_token("ab12");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "deploy");
  EXPECT_TRUE(found->read_only);
  EXPECT_EQ(found->created, tk.created);
  EXPECT_FALSE(a.find_token("ffff"));
  EXPECT_EQ(a.list_tokens().size(), 1u);
  EXPECT_TRUE(a.revoke_token("deploy"));
  EXPECT_FALSE(a.find_token("ab12"));
  EXPECT_FALSE(a.revoke_token("deploy"));
  EXPECT_GT(a.generation(), g0) << "servers see revocations";
}

TEST_P(store_conformance, statistics_in_15_minute_buckets) {
  auto& ev = *s_.events;
  auto e = [](std::string type, std::int64_t minute, std::string account, std::uint32_t rcpts) {
    auto x = sample_event("id" + std::to_string(minute) + type, type, minute, account);
    x.recipients = rcpts;
    return x;
  };
  ev.append(std::vector<stored_event>{e("send", 0, "acme", 2), e("send", 14, "acme", 1), e("delivery", 14, "acme", 3),
                                      e("send", 16, "acme", 1), e("bounce", 20, "other", 1)});
  auto all = ev.statistics(base::from_unix_seconds(1'800'000'000), "");
  // 1'800'000'000 is a multiple of 900: minutes 0-14 are one bucket, 15-29 the next.
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].start, base::from_unix_seconds(1'800'000'000));
  EXPECT_EQ(all[0].type, "delivery");
  EXPECT_EQ(all[0].recipients, 3u);
  EXPECT_EQ(all[1].type, "send");
  EXPECT_EQ(all[1].events, 2u);
  EXPECT_EQ(all[1].recipients, 3u);
  EXPECT_EQ(all[2].start, base::from_unix_seconds(1'800'000'900));
  auto acme = ev.statistics(base::from_unix_seconds(1'800'000'000), "acme");
  EXPECT_EQ(acme.size(), 3u);
  EXPECT_EQ(ev.statistics(base::from_unix_seconds(1'800'000'900), "").size(), 2u);
  ev.prune_statistics(base::from_unix_seconds(1'800'000'900));
  EXPECT_EQ(ev.statistics(base::from_unix_seconds(0), "").size(), 2u);
}

TEST_P(store_conformance, shared_files_by_path) {
  auto& a = *s_.accounts;
  EXPECT_FALSE(a.read_shared_file("dkim/example.com/keys.json"));
  const auto g0 = a.generation();
  const std::string pem("-----BEGIN PRIVATE KEY-----\n\x01\x00\xff binary too\n", 44);
  a.write_shared_file("dkim/example.com/smtpsd1e.pem", pem);
  a.write_shared_file("dkim/example.com/keys.json", "{}");
  a.write_shared_file("dkim/example.org/keys.json", "{\"keys\": []}");
  EXPECT_GT(a.generation(), g0) << "other nodes learn of the change";
  EXPECT_EQ(a.read_shared_file("dkim/example.com/smtpsd1e.pem"), pem);
  EXPECT_EQ(a.shared_files("/keys.json"),
            (std::vector<std::string>{"dkim/example.com/keys.json", "dkim/example.org/keys.json"}));
  a.write_shared_file("dkim/example.com/keys.json", "{\"keys\": [1]}");
  EXPECT_EQ(a.read_shared_file("dkim/example.com/keys.json"), "{\"keys\": [1]}") << "replaced";
  a.remove_shared_file("dkim/example.com/smtpsd1e.pem");
  EXPECT_FALSE(a.read_shared_file("dkim/example.com/smtpsd1e.pem"));
}

TEST_P(store_conformance, one_node_holds_a_role_until_it_runs_out) {
  const auto t0 = base::from_unix_seconds(1'800'000'000);
  auto& ev = *s_.events;
  EXPECT_TRUE(ev.hold_role("webhooks", t0, t0 + std::chrono::seconds(30)));
  EXPECT_TRUE(ev.hold_role("webhooks", t0 + std::chrono::seconds(10), t0 + std::chrono::seconds(40))) << "kept";
  if (GetParam().name != "postgres") return;  // one node's stores: always its own
  auto other = postgres::open(postgres::testing::pg_instance::shared().database(
                                  fmt::format("t{:x}", std::hash<std::string>{}((dir_ / "data").string()))),
                              "node-b");
  EXPECT_FALSE(other.events->hold_role("webhooks", t0 + std::chrono::seconds(20), t0 + std::chrono::seconds(50)))
      << "held by node-a";
  EXPECT_TRUE(other.events->hold_role("webhooks", t0 + std::chrono::seconds(41), t0 + std::chrono::seconds(71)))
      << "node-a's hold ran out";
  EXPECT_FALSE(ev.hold_role("webhooks", t0 + std::chrono::seconds(42), t0 + std::chrono::seconds(72)));
}

INSTANTIATE_TEST_SUITE_P(backends, store_conformance,
                         ::testing::Values(backend{"memory", [](auto&) { return memory::open(); }},
                                           backend{"embedded", [](auto& p) { return embedded::open(p); }},
                                           backend{"postgres", [](const std::filesystem::path& p) {
                                             // A database per test folder, the folder as the embedded one is.
                                             std::filesystem::create_directories(p);
                                             ::chmod(p.c_str(), 0700);
                                             auto name = fmt::format("t{:x}", std::hash<std::string>{}(p.string()));
                                             auto url = postgres::testing::pg_instance::shared().database(name);
                                             return postgres::open(url, "node-a");
                                           }}),
                         [](const auto& info) { return info.param.name; });
