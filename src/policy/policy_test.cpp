#include <gtest/gtest.h>

#include "message/headers.hpp"
#include "policy/authenticator.hpp"
#include "policy/connections.hpp"
#include "policy/identity.hpp"
#include "policy/limits.hpp"
#include "policy/reputation.hpp"
#include "policy/submission_policy.hpp"
#include "store/memory/memory_stores.hpp"

using namespace smtpsd;
using namespace smtpsd::policy;
using smtpsd::policy::authenticator;
using namespace std::chrono_literals;

TEST(token_bucket, bursts_up_to_one_second_then_refills) {
  base::manual_clock clock;
  token_bucket b(5, clock.now());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.take(clock.now(), 5)) << i;
  EXPECT_FALSE(b.take(clock.now(), 5));
  clock.advance(200ms);
  EXPECT_TRUE(b.take(clock.now(), 5));
  EXPECT_FALSE(b.take(clock.now(), 5));
  clock.advance(10s);
  int n = 0;
  while (b.take(clock.now(), 5)) ++n;
  EXPECT_EQ(n, 5) << "never more than one second's worth";
  token_bucket slow(0.5, clock.now());  // below 1/s still allows one
  EXPECT_TRUE(slow.take(clock.now(), 0.5));
  EXPECT_FALSE(slow.take(clock.now(), 0.5));
  clock.advance(2s);
  EXPECT_TRUE(slow.take(clock.now(), 0.5));
}

TEST(rolling_window, counts_the_last_24_hours) {
  base::manual_clock clock;
  rolling_window w;
  w.add(clock.now(), 3);
  clock.advance(12h);
  w.add(clock.now(), 4);
  EXPECT_EQ(w.total(clock.now()), 7u);
  clock.advance(12h + 1min);
  EXPECT_EQ(w.total(clock.now()), 4u);
  clock.advance(12h);
  EXPECT_EQ(w.total(clock.now()), 0u);
}

TEST(send_limiter, quota_loaded_from_the_store_and_released) {
  base::manual_clock clock;
  std::vector<store::usage_bucket> stored{{clock.now() - 1h, 8}};
  send_limiter l(clock, [&](std::int64_t, base::time_point) { return stored; });
  EXPECT_EQ(l.reserve(1, 100, 10).o, send_limiter::outcome::ok);
  EXPECT_EQ(l.reserve(1, 100, 10).o, send_limiter::outcome::ok);
  auto d = l.reserve(1, 100, 10);
  EXPECT_EQ(d.o, send_limiter::outcome::quota);
  EXPECT_EQ(d.value, 10);
  l.release(1, 1, 100);
  EXPECT_EQ(l.reserve(1, 100, 10).o, send_limiter::outcome::ok);
  l.commit(1, 2);
  EXPECT_EQ(l.usage(1), 10u);
  clock.advance(23h + 2min);
  EXPECT_EQ(l.usage(1), 2u) << "the stored 8 fell out of the window";
}

TEST(identity, parse_and_normalise) {
  auto d = std::get<identity_spec>(parse_identity("Example.COM"));
  EXPECT_EQ(d.value, "example.com");
  EXPECT_EQ(d.kind, store::identity_kind::domain);
  EXPECT_EQ(std::get<identity_spec>(parse_identity("b\xC3\xBC" "cher.example")).value, "xn--bcher-kva.example");
  auto a = std::get<identity_spec>(parse_identity("Alice@Example.COM"));
  EXPECT_EQ(a.value, "Alice@example.com") << "local parts stay as written";
  EXPECT_EQ(a.kind, store::identity_kind::address);
  for (auto bad : {"", "@", "a@@b.example", "@example.com", "example", "a@", "exa mple.com", "a@b@c.example"})
    EXPECT_TRUE(std::holds_alternative<std::string>(parse_identity(bad))) << bad;
}

TEST(identity, coverage) {
  std::vector<store::identity> ids{{1, 1, "example.com", store::identity_kind::domain, {}},
                                   {2, 1, "Bob@example.org", store::identity_kind::address, {}}};
  EXPECT_TRUE(covers(ids, *normalize_address("anyone@EXAMPLE.com")));
  EXPECT_FALSE(covers(ids, *normalize_address("anyone@sub.example.com")));
  EXPECT_TRUE(covers(ids, *normalize_address("Bob@Example.ORG")));
  EXPECT_FALSE(covers(ids, *normalize_address("bob@example.org"))) << "local parts compare exactly";
  EXPECT_TRUE(covers(ids, *normalize_address("\"Bob\"@example.org"))) << "needless quotes do not matter";
  EXPECT_FALSE(covers(ids, *normalize_address("carol@example.org")));
}

TEST(auth_throttle, sliding_window) {
  base::manual_clock clock;
  auth_throttle t(clock, 3, 60s);
  EXPECT_EQ(t.failure("192.0.2.1"), 1u);
  clock.advance(10s);
  t.failure("192.0.2.1");
  EXPECT_FALSE(t.throttled("192.0.2.1"));
  EXPECT_EQ(t.failure("192.0.2.1"), 3u);
  EXPECT_TRUE(t.throttled("192.0.2.1"));
  EXPECT_FALSE(t.throttled("192.0.2.2"));
  clock.advance(51s);  // the first failure left the window
  EXPECT_FALSE(t.throttled("192.0.2.1"));
}

TEST(connections, caps_and_access_lists) {
  connection_limits c(3, 2);
  EXPECT_FALSE(c.admit("a"));
  EXPECT_FALSE(c.admit("a"));
  auto r = c.admit("a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reply.code, 421);
  EXPECT_EQ(r->rule, "too_many_connections_per_ip");
  EXPECT_FALSE(c.admit("b"));
  EXPECT_EQ(c.admit("c")->rule, "too_many_connections");
  c.release("a");
  EXPECT_FALSE(c.admit("c"));
  auto ip = *base::ip_address::parse("10.1.2.3");
  auto net10 = *base::cidr::parse("10.0.0.0/8");
  auto host = *base::cidr::parse("10.1.2.3/32");
  EXPECT_TRUE(access_allowed({}, {}, ip));
  EXPECT_TRUE(access_allowed({net10}, {}, ip));
  EXPECT_FALSE(access_allowed({net10}, {host}, ip)) << "deny is checked first";
  EXPECT_FALSE(access_allowed({*base::cidr::parse("192.168.0.0/16")}, {}, ip));
}

TEST(submission_policy, headers_and_sender) {
  auto s = store::memory::open();
  base::manual_clock clock;
  store::account a;
  a.name = "acme";
  auto acct = *s.accounts->create_account(a);
  s.accounts->add_identity(acct.id, "example.com", store::identity_kind::domain);
  submission_policy p(s.accounts, s.suppressions, s.queue, clock, {});
  auto prof = std::get<sender_profile>(p.profile("acme"));
  EXPECT_FALSE(p.check_mail(prof, *smtp::parse_mailbox("x@example.com")));
  EXPECT_EQ(p.check_mail(prof, smtp::mailbox{})->rule, "null_sender");
  EXPECT_EQ(p.check_mail(prof, *smtp::parse_mailbox("x@evil.example"))->reply.code, 550);
  auto check = [&](std::string section) {
    auto f = message::parse_header_section(section);
    auto r = p.check_headers(prof, *f);
    return r ? r->rule : std::string("ok");
  };
  EXPECT_EQ(check("From: A <a@example.com>\r\n"), "ok");
  EXPECT_EQ(check("From: a@example.com, b@evil.example\r\n"), "header_from_not_authorized");
  EXPECT_EQ(check("From: a@example.com\r\nSender: s@evil.example\r\n"), "header_from_not_authorized");
  EXPECT_EQ(check("Subject: none\r\n"), "malformed_headers");
  acct.suspended = true;
  s.accounts->update_account(acct);
  EXPECT_EQ(std::get<rejection>(p.profile("acme")).rule, "account_suspended");
}

namespace {
// A store that cannot answer: every call throws, as a locked or lost database would.
class broken_accounts final : public store::account_store {
  [[noreturn]] static void fail() { throw store::store_error("database is locked"); }

 public:
  std::optional<store::account> create_account(const store::account&) override { fail(); }
  std::optional<store::account> find_account(std::string_view) override { fail(); }
  std::optional<store::account> find_account(std::int64_t) override { fail(); }
  std::vector<store::account> list_accounts() override { fail(); }
  bool update_account(const store::account&) override { fail(); }
  bool remove_account(std::string_view) override { fail(); }
  std::optional<store::credential> create_credential(std::int64_t, std::string_view, std::string_view, std::string_view) override { fail(); }
  std::optional<store::login> find_login(std::string_view) override { fail(); }
  std::vector<store::credential> list_credentials(std::int64_t) override { fail(); }
  bool revoke_credential(std::string_view) override { fail(); }
  std::optional<store::identity> add_identity(std::int64_t, std::string_view, store::identity_kind) override { fail(); }
  std::vector<store::identity> list_identities(std::int64_t) override { fail(); }
  bool remove_identity(std::int64_t, std::string_view) override { fail(); }
  bool create_token(const store::api_token&) override { fail(); }
  std::optional<store::api_token> find_token(std::string_view) override { fail(); }
  std::vector<store::api_token> list_tokens() override { fail(); }
  bool revoke_token(std::string_view) override { fail(); }
  std::uint64_t generation() override { fail(); }
  std::string installation_secret() override { fail(); }
  void add_reputation(std::span<const store::reputation_delta>) override { fail(); }
  std::vector<store::reputation_bucket> reputation(std::int64_t, base::time_point) override { fail(); }
  std::optional<std::string> read_shared_file(std::string_view) override { fail(); }
  void write_shared_file(std::string_view, std::string_view) override { fail(); }
  void remove_shared_file(std::string_view) override { fail(); }
  std::vector<std::string> shared_files(std::string_view) override { fail(); }
};
}  // namespace

TEST(submission_policy, never_fails_open) {
  auto s = store::memory::open();
  base::manual_clock clock;
  submission_policy p(std::make_shared<broken_accounts>(), s.suppressions, s.queue, clock, {});
  auto r = p.profile("acme");
  ASSERT_TRUE(std::holds_alternative<rejection>(r));
  EXPECT_EQ(std::get<rejection>(r).reply.wire(), "451 4.3.0 Temporary failure, please try again later\r\n");
  authenticator auth(std::make_shared<broken_accounts>(), clock);
  EXPECT_EQ(auth.verify("alice", base::secret_string("pw")).k, auth_result::kind::temporary);
  EXPECT_FALSE(auth.verify_from_memory("alice", base::secret_string("pw"), "192.0.2.1"))
      << "a store without a change signal is always asked";
}

namespace smtpsd::policy {
namespace {

smtp::mailbox box(std::string_view a) { return *smtp::parse_mailbox(a); }

TEST(sandbox, only_own_identities_and_allowed_recipients_at_ses_figures) {
  auto s = store::memory::open();
  base::manual_clock clock;
  store::account in;
  in.name = "acme";
  in.sandbox = true;
  in.max_24h = 100000;
  in.allowed_recipients = {"bob@example.org"};
  auto a = s.accounts->create_account(in).value();
  s.accounts->add_identity(a.id, "example.com", store::identity_kind::domain);
  submission_policy p(s.accounts, s.suppressions, s.queue, clock, {});
  auto prof = std::get<sender_profile>(p.profile("acme"));
  EXPECT_EQ(prof.max_send_rate, 1);
  EXPECT_EQ(prof.max_24h, 200u);
  auto r = p.check_rcpt(prof, box("carol@example.net"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reply.summary(),
            "550 5.7.1 Recipient address <carol@example.net> is not a verified identity: account acme is in the sandbox");
  EXPECT_EQ(r->rule, "sandbox");
  EXPECT_FALSE(p.check_rcpt(prof, box("x@EXAMPLE.com")));
  clock.advance(std::chrono::seconds(1));
  EXPECT_FALSE(p.check_rcpt(prof, box("Bob@example.org"))) << "allowed recipients compare in lower case";
}

TEST(submission_policy, answers_from_memory_only_while_the_store_was_read_recently) {
  auto s = store::memory::open();
  base::manual_clock clock;
  store::account in;
  in.name = "acme";
  in.max_24h = 2;
  auto a = s.accounts->create_account(in).value();
  s.accounts->add_identity(a.id, "example.com", store::identity_kind::domain);
  submission_policy p(s.accounts, s.suppressions, s.queue, clock, {});
  EXPECT_FALSE(p.cached_profile("acme")) << "nothing read yet";
  auto prof = std::get<sender_profile>(p.profile("acme"));
  ASSERT_TRUE(p.cached_profile("acme"));
  EXPECT_EQ(p.cached_profile("acme")->account.id, a.id);
  EXPECT_FALSE(p.try_check_rcpt(prof, box("a@example.org")).known) << "the copy and the counts are not loaded yet";

  EXPECT_FALSE(p.check_rcpt(prof, box("a@example.org")));  // on the pool: loads both
  auto quick = p.try_check_rcpt(prof, box("b@example.org"));
  EXPECT_TRUE(quick.known);
  EXPECT_FALSE(quick.refused);
  quick = p.try_check_rcpt(prof, box("c@example.org"));
  ASSERT_TRUE(quick.known && quick.refused);
  EXPECT_EQ(quick.refused->rule, "daily_quota") << "this node's counts answer from memory too";

  // A change made elsewhere (here straight in the store, as the CLI does) is
  // seen once the store is read again, at most `recheck` later.
  s.suppressions->add("Gone@example.org", "manual", clock.now());
  a.suspended = true;
  s.accounts->update_account(a);
  clock.advance(submission_policy::recheck);
  EXPECT_FALSE(p.cached_profile("acme"));
  EXPECT_FALSE(p.try_check_rcpt(prof, box("gone@example.org")).known);
  EXPECT_EQ(std::get<rejection>(p.profile("acme")).rule, "account_suspended");
  EXPECT_FALSE(p.cached_profile("acme")) << "a refused account is never answered from memory";
  p.release(prof, 2);
  EXPECT_EQ(p.check_rcpt(prof, box("GONE@example.org"))->rule, "suppressed");
  EXPECT_FALSE(p.try_check_rcpt(prof, box("gone@example.org")).known) << "a listed address is read from the store";
  EXPECT_TRUE(p.try_check_rcpt(prof, box("d@example.org")).known);

  // A session's AUTH (prepare) sees every change made before it, however fresh the copy.
  s.suppressions->add("bounced@example.org", "bounce: 550 5.1.1", clock.now());
  EXPECT_TRUE(p.try_check_rcpt(prof, box("e@example.org")).known);
  p.prepare("acme");
  EXPECT_FALSE(p.try_check_rcpt(prof, box("bounced@example.org")).known);
}

TEST(suppression_copy, holds_at_most_max_entries_and_knows_nothing_beyond) {
  auto s = store::memory::open();
  base::manual_clock clock;
  suppression_copy copy;
  EXPECT_FALSE(copy.contains("a@example.org", clock.now()));
  copy.refresh(*s.suppressions, clock.now());
  EXPECT_EQ(copy.contains("a@example.org", clock.now()), false);
  for (std::size_t i = 0; i <= suppression_copy::max_entries; ++i)
    s.suppressions->add("u" + std::to_string(i) + "@example.org", "manual", clock.now());
  clock.advance(suppression_copy::recheck);
  copy.refresh(*s.suppressions, clock.now());
  EXPECT_FALSE(copy.contains("a@example.org", clock.now())) << "too many to hold: the store answers";
  s.suppressions->remove("u0@example.org");
  s.suppressions->remove("u1@example.org");
  clock.advance(suppression_copy::recheck);
  copy.refresh(*s.suppressions, clock.now());
  EXPECT_EQ(copy.contains("U2@Example.org", clock.now()), true);
  EXPECT_EQ(copy.contains("u1@example.org", clock.now()), false);
}

TEST(reputation, a_paused_account_is_refused_at_mail_with_the_reason) {
  auto s = store::memory::open();
  base::manual_clock clock;
  store::account in;
  in.name = "acme";
  in.paused = "bounce rate 12.3 % over the last 10000 recipients";
  auto a = s.accounts->create_account(in).value();
  s.accounts->add_identity(a.id, "example.com", store::identity_kind::domain);
  submission_policy p(s.accounts, s.suppressions, s.queue, clock, {});
  auto prof = std::get<sender_profile>(p.profile("acme"));
  auto r = p.check_mail(prof, box("a@example.com"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reply.summary(),
            "550 5.7.1 Sending paused for account acme: bounce rate 12.3 % over the last 10000 recipients");
}

TEST(reputation, judged_over_the_last_recipients_with_ses_thresholds) {
  reputation_thresholds t;
  EXPECT_EQ(judge({199, 100, 0}, t).status, reputation_status::healthy) << "below the minimum volume";
  EXPECT_EQ(judge({1000, 49, 0}, t).status, reputation_status::healthy);
  auto w = judge({1000, 50, 0}, t);
  EXPECT_EQ(w.status, reputation_status::warning);
  EXPECT_EQ(w.reason, "bounce rate 5.0 % over the last 1000 recipients");
  auto p = judge({10000, 1230, 0}, t);
  EXPECT_EQ(p.status, reputation_status::paused);
  EXPECT_EQ(p.reason, "bounce rate 12.3 % over the last 10000 recipients");
  auto c = judge({1000, 60, 5}, t);
  EXPECT_EQ(c.status, reputation_status::paused) << "0.5 % complaints pause, ahead of a bounce warning";
  EXPECT_EQ(c.metric, "complaint");
  EXPECT_EQ(judge({1000, 0, 1}, t).status, reputation_status::warning);

  // Newest buckets first, until 10,000 recipients are covered.
  std::vector<store::reputation_bucket> b = {{{}, 6000, 600, 0}, {{}, 6000, 0, 0}, {{}, 6000, 0, 0}};
  auto f = sum_window(b, 10000);
  EXPECT_EQ(f.recipients, 12000u);
  EXPECT_EQ(f.bounces, 600u);
}

// An account "acme" and a monitor judging from 10 recipients on.
struct monitored {
  store::stores s = store::memory::open();
  base::manual_clock clock;
  store::account a = [this] {
    store::account in;
    in.name = "acme";
    return s.accounts->create_account(in).value();
  }();
  reputation_thresholds t = [] {
    reputation_thresholds t;
    t.min_recipients = 10;
    return t;
  }();
  reputation_monitor m{s.accounts, clock, t};
};

TEST(reputation, monitor_pauses_once_and_resume_starts_afresh) {
  monitored f;
  auto& [s, clock, a, t, m] = f;
  m.count_recipients(a.id, 10);
  store::reputation_delta d{a.id, {hour_of(clock.now()), 0, 1, 0}};
  auto changes = m.record(std::span(&d, 1));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].verdict.status, reputation_status::paused);
  EXPECT_EQ(s.accounts->find_account("acme")->paused, "bounce rate 10.0 % over the last 10 recipients");
  EXPECT_TRUE(m.record(std::span(&d, 1)).empty()) << "paused once";

  auto resumed = *s.accounts->find_account("acme");
  resumed.paused.clear();
  resumed.reputation_warning.clear();
  resumed.reputation_since = clock.now();
  s.accounts->update_account(resumed);
  EXPECT_EQ(m.figures(resumed).recipients, 0u) << "counted again from the next hour";
  EXPECT_TRUE(m.record(std::span(&d, 1)).empty());
  EXPECT_EQ(s.accounts->find_account("acme")->paused, "");
}

TEST(reputation, a_warning_is_reported_once_and_cleared_when_healthy_again) {
  monitored f;
  auto& [s, clock, a, t, m] = f;
  m.count_recipients(a.id, 100);
  store::reputation_delta bounce{a.id, {hour_of(clock.now()), 0, 6, 0}};
  auto changes = m.record(std::span(&bounce, 1));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].verdict.status, reputation_status::warning);
  EXPECT_EQ(changes[0].verdict.reason, "bounce rate 6.0 % over the last 100 recipients");
  EXPECT_EQ(s.accounts->find_account("acme")->paused, "") << "a warning does not pause";
  bounce.counts.bounces = 1;
  EXPECT_TRUE(m.record(std::span(&bounce, 1)).empty()) << "reported once";
  m.count_recipients(a.id, 10000);
  EXPECT_TRUE(m.record(std::span(&bounce, 1)).empty());
  EXPECT_EQ(s.accounts->find_account("acme")->reputation_warning, "") << "healthy again";
}

}  // namespace
}  // namespace smtpsd::policy
