#include <gtest/gtest.h>

#include <chrono>
#include <ctime>

#include "policy/authenticator.hpp"
#include "store/memory/memory_stores.hpp"

using namespace smtpsd;
using namespace std::chrono_literals;

namespace {

// This thread's CPU time: what verify() costs, whatever else a busy machine
// (ctest -j2 under ASan) runs meanwhile. verify() runs on the calling thread.
std::chrono::nanoseconds thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

struct authenticator_fixture {
  store::stores s = store::memory::open();
  base::manual_clock clock;
  std::unique_ptr<policy::authenticator> auth;
  store::account acct;
  authenticator_fixture() {
    store::account a;
    a.name = "acme";
    acct = *s.accounts->create_account(a);
    s.accounts->create_credential(acct.id, "user1", policy::authenticator::hash_password("right"), policy::authenticator::scram_record("right"));
    auth = std::make_unique<policy::authenticator>(s.accounts, clock, 60s);
  }
};
using kind = policy::auth_result::kind;
}  // namespace

TEST(authenticator, right_wrong_unknown) {
  authenticator_fixture f;
  auto ok = f.auth->verify("user1", base::secret_string("right"));
  EXPECT_EQ(ok.k, kind::success);
  EXPECT_EQ(ok.account->name, "acme");
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("wrong")).k, kind::failure);
  auto unknown = f.auth->verify("nobody", base::secret_string("right"));
  EXPECT_EQ(unknown.k, kind::failure);
  EXPECT_EQ(unknown.reason, "unknown user");
}

TEST(authenticator, cache_hits_follow_revocation_and_suspension) {
  authenticator_fixture f;
  ASSERT_EQ(f.auth->verify("user1", base::secret_string("right")).k, kind::success);
  EXPECT_EQ(f.auth->cache_size(), 1u);
  // A hit, measured: far cheaper than Argon2id.
  auto t0 = thread_cpu();
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("right")).k, kind::success);
  EXPECT_LT(thread_cpu() - t0, 5ms);
  f.acct.suspended = true;
  f.s.accounts->update_account(f.acct);
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("right")).k, kind::failure);
  f.s.accounts->revoke_credential("user1");
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("right")).k, kind::failure);
}

TEST(authenticator, cache_entries_expire_and_new_hash_invalidates) {
  authenticator_fixture f;
  ASSERT_EQ(f.auth->verify("user1", base::secret_string("right")).k, kind::success);
  f.s.accounts->revoke_credential("user1");
  f.s.accounts->create_credential(f.acct.id, "user1", policy::authenticator::hash_password("new"), policy::authenticator::scram_record("new"));
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("right")).k, kind::failure)
      << "a cached password must not outlive its credential";
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("new")).k, kind::success);
  f.clock.advance(61s);
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("new")).k, kind::success);
}

TEST(authenticator, memory_answers_what_the_pool_verified_until_the_store_changes) {
  authenticator_fixture f;
  const std::string ip = "192.0.2.1";
  const base::secret_string right("right");
  auto remembered = [&](std::string_view user, const base::secret_string& pw) {
    auto r = f.auth->verify_from_memory(user, pw, ip);
    if (r) {
      EXPECT_EQ(r->k, kind::success);
    }
    return r.has_value();
  };
  EXPECT_FALSE(remembered("user1", right)) << "nothing verified yet";
  ASSERT_EQ(f.auth->verify("user1", right, ip).k, kind::success);
  auto m = f.auth->verify_from_memory("user1", right, ip);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->account->name, "acme");
  EXPECT_EQ(m->account->id, f.acct.id);
  EXPECT_FALSE(remembered("user1", base::secret_string("wrong")));
  EXPECT_FALSE(remembered("user2", right));

  // Any change to the accounts sends the next AUTH to the pool, which reads it.
  f.s.accounts->add_identity(f.acct.id, "example.com", store::identity_kind::domain);
  EXPECT_FALSE(remembered("user1", right));
  ASSERT_EQ(f.auth->verify("user1", right, ip).k, kind::success);
  EXPECT_TRUE(remembered("user1", right));

  f.acct.suspended = true;
  f.s.accounts->update_account(f.acct);
  EXPECT_FALSE(remembered("user1", right)) << "a suspension applies at the next AUTH";
  EXPECT_EQ(f.auth->verify("user1", right, ip).k, kind::failure);
  EXPECT_FALSE(remembered("user1", right)) << "a refusal is never answered from memory";
  f.acct.suspended = false;
  f.s.accounts->update_account(f.acct);
  ASSERT_EQ(f.auth->verify("user1", right, ip).k, kind::success);
  EXPECT_TRUE(remembered("user1", right));

  f.s.accounts->revoke_credential("user1");
  EXPECT_FALSE(remembered("user1", right)) << "a revoke applies at the next AUTH";
  EXPECT_EQ(f.auth->verify("user1", right, ip).k, kind::failure);
  EXPECT_FALSE(remembered("user1", right));
}

TEST(authenticator, memory_answers_for_half_a_second_and_follow_the_suppression_list) {
  authenticator_fixture f;
  const base::secret_string right("right");
  ASSERT_EQ(f.auth->verify("user1", right, "192.0.2.1").k, kind::success);
  f.clock.advance(policy::authenticator::recheck - 1ms);
  EXPECT_TRUE(f.auth->verify_from_memory("user1", right, "192.0.2.1"));
  f.clock.advance(1ms);
  EXPECT_FALSE(f.auth->verify_from_memory("user1", right, "192.0.2.1")) << "read again every half second";
  ASSERT_EQ(f.auth->verify("user1", right, "192.0.2.1").k, kind::success);
  EXPECT_TRUE(f.auth->verify_from_memory("user1", right, "192.0.2.1"));
  // The session's MAIL and RCPTs rely on what the pool's AUTH prepared: a
  // new suppression has to reach them as a new identity does.
  ASSERT_TRUE(f.s.suppressions->add("gone@example.org", "bounce", f.clock.now()));
  EXPECT_FALSE(f.auth->verify_from_memory("user1", right, "192.0.2.1"));
  EXPECT_FALSE(f.s.suppressions->add("gone@example.org", "bounce", f.clock.now()));
  ASSERT_EQ(f.auth->verify("user1", right, "192.0.2.1").k, kind::success);
  EXPECT_TRUE(f.auth->verify_from_memory("user1", right, "192.0.2.1")) << "no change, no move";
}

TEST(authenticator, memory_never_answers_a_throttled_client) {
  authenticator_fixture f;
  policy::auth_throttle t(f.clock, 2, 60s);
  policy::authenticator a(f.s.accounts, f.clock, 60s, &t);
  const base::secret_string right("right");
  ASSERT_EQ(a.verify("user1", right, "192.0.2.1").k, kind::success);
  EXPECT_TRUE(a.verify_from_memory("user1", right, "192.0.2.1"));
  EXPECT_EQ(a.verify("user1", base::secret_string("x"), "192.0.2.1").k, kind::failure);
  EXPECT_EQ(a.verify("user1", base::secret_string("x"), "192.0.2.1").k, kind::failure);
  EXPECT_FALSE(a.verify_from_memory("user1", right, "192.0.2.1"));
  EXPECT_EQ(a.verify("user1", right, "192.0.2.1").k, kind::throttled);
  EXPECT_TRUE(a.verify_from_memory("user1", right, "192.0.2.2"));
}

TEST(authenticator, generated_secrets) {
  auto p = policy::authenticator::generate_password();
  EXPECT_EQ(p.size(), 24u);
  EXPECT_NE(p, policy::authenticator::generate_password());
  EXPECT_EQ(policy::authenticator::generate_username().rfind("SMTP", 0), 0u);
}

TEST(authenticator, unknown_users_cost_as_much_as_known_ones) {
  authenticator_fixture f;
  auto time = [&](const char* user) {
    const auto t0 = thread_cpu();
    f.auth->verify(user, base::secret_string("not the password"));
    return thread_cpu() - t0;
  };
  time("user1");  // warm up
  auto known = time("user1");
  auto unknown = time("nobody");
  EXPECT_GT(unknown, known / 2) << "an unknown user must run the same Argon2id work";
  EXPECT_GT(unknown, 5ms);
}

TEST(authenticator, throttle_answers_without_checking_the_password) {
  authenticator_fixture f;
  policy::auth_throttle t(f.clock, 2, 60s);
  policy::authenticator a(f.s.accounts, f.clock, 60s, &t);
  EXPECT_EQ(a.verify("user1", base::secret_string("x"), "192.0.2.1").k, kind::failure);
  EXPECT_EQ(a.verify("user1", base::secret_string("x"), "192.0.2.1").k, kind::failure);
  EXPECT_EQ(a.verify("user1", base::secret_string("right"), "192.0.2.1").k, kind::throttled);
  EXPECT_EQ(a.verify("user1", base::secret_string("right"), "192.0.2.2").k, kind::success);
}

TEST(authenticator, scram_secrets_are_the_credentials_or_made_up_and_stable) {
  authenticator_fixture f;
  auto known = f.auth->scram_secrets("user1");
  ASSERT_EQ(known.k, policy::scram_lookup::kind::found);
  const auto again = sasl::make_scram_secrets("right", known.secrets.salt, known.secrets.iterations);
  EXPECT_EQ(known.secrets.stored_key, again.stored_key) << "the StoredKey of the password \"right\"";
  EXPECT_EQ(known.secrets.server_key, again.server_key);
  EXPECT_GE(known.secrets.iterations, sasl::scram_min_iterations);

  f.s.accounts->create_credential(f.acct.id, "old", policy::authenticator::hash_password("pw"), "");
  for (const char* user : {"nobody", "old"}) {
    auto a = f.auth->scram_secrets(user);
    auto b = f.auth->scram_secrets(user);
    ASSERT_EQ(a.k, policy::scram_lookup::kind::found) << user;
    EXPECT_EQ(a.secrets.salt, b.secrets.salt) << "the same made-up salt every time for " << user;
    EXPECT_EQ(a.secrets.stored_key, b.secrets.stored_key);
    EXPECT_EQ(a.secrets.salt.size(), 16u);
    EXPECT_NE(a.secrets.salt, known.secrets.salt);
  }
  EXPECT_NE(f.auth->scram_secrets("nobody").secrets.salt, f.auth->scram_secrets("old").secrets.salt);
  policy::authenticator other_node(f.s.accounts, f.clock, 60s);  // another process on the same store
  EXPECT_EQ(other_node.scram_secrets("nobody").secrets.salt, f.auth->scram_secrets("nobody").secrets.salt)
      << "made up with the installation's secret: the same after a restart and on every node";
}

TEST(authenticator, scram_confirmation_checks_the_account_and_counts_failures) {
  authenticator_fixture f;
  policy::auth_throttle t(f.clock, 2, 60s);
  policy::authenticator a(f.s.accounts, f.clock, 60s, &t);
  auto ok = a.confirm_scram("user1", true, "", "192.0.2.1");
  ASSERT_EQ(ok.k, kind::success);
  EXPECT_EQ(ok.account->name, "acme");
  auto bad = a.confirm_scram("user1", false, "wrong password", "192.0.2.1");
  EXPECT_EQ(bad.k, kind::failure);
  EXPECT_EQ(bad.reason.rfind("wrong password (failure 1 of 2", 0), 0u) << bad.reason;
  f.acct.suspended = true;
  f.s.accounts->update_account(f.acct);
  auto suspended = a.confirm_scram("user1", true, "", "192.0.2.3");
  EXPECT_EQ(suspended.k, kind::failure);
  EXPECT_EQ(suspended.reason.rfind("account suspended", 0), 0u);
  f.s.accounts->revoke_credential("user1");
  EXPECT_EQ(a.confirm_scram("user1", true, "", "192.0.2.4").reason.rfind("credential revoked", 0), 0u);
  EXPECT_EQ(a.confirm_scram("user1", false, "wrong password", "192.0.2.1").k, kind::failure);
  EXPECT_EQ(a.scram_secrets("user1", "192.0.2.1").k, policy::scram_lookup::kind::throttled);
  EXPECT_EQ(a.confirm_scram("user1", true, "", "192.0.2.1").k, kind::throttled);
}

TEST(authenticator, scram_records_round_trip) {
  const auto text = policy::authenticator::scram_record("pencil");
  EXPECT_EQ(text.rfind("SCRAM-SHA-256$4096:", 0), 0u) << text;
  auto s = sasl::parse_scram_secrets(text);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->salt.size(), 16u);
  EXPECT_EQ(s->stored_key, sasl::make_scram_secrets("pencil", s->salt, 4096).stored_key);
  EXPECT_NE(text, policy::authenticator::scram_record("pencil")) << "a fresh salt each time";
}
