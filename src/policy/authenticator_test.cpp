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

struct fixture {
  store::stores s = store::memory::open();
  base::manual_clock clock;
  std::unique_ptr<policy::authenticator> auth;
  store::account acct;
  fixture() {
    store::account a;
    a.name = "acme";
    acct = *s.accounts->create_account(a);
    s.accounts->create_credential(acct.id, "user1", policy::authenticator::hash_password("right"));
    auth = std::make_unique<policy::authenticator>(s.accounts, clock, 60s);
  }
};
using kind = policy::auth_result::kind;
}  // namespace

TEST(authenticator, right_wrong_unknown) {
  fixture f;
  auto ok = f.auth->verify("user1", base::secret_string("right"));
  EXPECT_EQ(ok.k, kind::success);
  EXPECT_EQ(ok.account->name, "acme");
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("wrong")).k, kind::failure);
  auto unknown = f.auth->verify("nobody", base::secret_string("right"));
  EXPECT_EQ(unknown.k, kind::failure);
  EXPECT_EQ(unknown.reason, "unknown user");
}

TEST(authenticator, cache_hits_follow_revocation_and_suspension) {
  fixture f;
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
  fixture f;
  ASSERT_EQ(f.auth->verify("user1", base::secret_string("right")).k, kind::success);
  f.s.accounts->revoke_credential("user1");
  f.s.accounts->create_credential(f.acct.id, "user1", policy::authenticator::hash_password("new"));
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("right")).k, kind::failure)
      << "a cached password must not outlive its credential";
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("new")).k, kind::success);
  f.clock.advance(61s);
  EXPECT_EQ(f.auth->verify("user1", base::secret_string("new")).k, kind::success);
}

TEST(authenticator, generated_secrets) {
  auto p = policy::authenticator::generate_password();
  EXPECT_EQ(p.size(), 24u);
  EXPECT_NE(p, policy::authenticator::generate_password());
  EXPECT_EQ(policy::authenticator::generate_username().rfind("SMTP", 0), 0u);
}

TEST(authenticator, unknown_users_cost_as_much_as_known_ones) {
  fixture f;
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
  fixture f;
  policy::auth_throttle t(f.clock, 2, 60s);
  policy::authenticator a(f.s.accounts, f.clock, 60s, &t);
  EXPECT_EQ(a.verify("user1", base::secret_string("x"), "192.0.2.1").k, kind::failure);
  EXPECT_EQ(a.verify("user1", base::secret_string("x"), "192.0.2.1").k, kind::failure);
  EXPECT_EQ(a.verify("user1", base::secret_string("right"), "192.0.2.1").k, kind::throttled);
  EXPECT_EQ(a.verify("user1", base::secret_string("right"), "192.0.2.2").k, kind::success);
}
