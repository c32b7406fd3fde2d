// The policy checks one accepted message goes through, against the embedded
// store: the account read at MAIL (with its identities), the sender check,
// the recipient check (suppression lookup and the rate and quota limiter),
// the From:/Sender: check, and the commit of the counters.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

#include "base/clock.hpp"
#include "message/headers.hpp"
#include "policy/submission_policy.hpp"
#include "store/embedded/sqlite_stores.hpp"

using namespace smtpsd;

namespace {

struct world {
  std::filesystem::path dir;
  store::stores s;
  std::unique_ptr<policy::submission_policy> p;
  std::string headers = "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: hi\r\nDate: x\r\n";
  world() {
    char tmpl[] = "/tmp/smtpsd-policy-bench-XXXXXX";
    dir = mkdtemp(tmpl);
    s = store::embedded::open(dir);
    store::account a;
    a.name = "acme";
    a.max_send_rate = 1e9;
    a.max_24h = 1ull << 40;
    auto acct = *s.accounts->create_account(a);
    s.accounts->add_identity(acct.id, "example.com", store::identity_kind::domain);
    s.accounts->add_identity(acct.id, "bob@example.net", store::identity_kind::address);
    for (int i = 0; i < 10000; ++i)
      s.suppressions->add("bounced" + std::to_string(i) + "@example.org", "manual", base::real_clock().now());
    p = std::make_unique<policy::submission_policy>(s.accounts, s.suppressions, s.queue, base::real_clock(),
                                                    policy::policy_defaults{});
  }
  ~world() { std::filesystem::remove_all(dir); }
};

world& the_world() {
  static world w;
  return w;
}

void BM_policy_per_message(benchmark::State& state) {
  auto& w = the_world();
  auto from = *smtp::parse_mailbox("alice@example.com");
  auto rcpt = *smtp::parse_mailbox("bob@example.org");
  for (auto _ : state) {
    auto prof = std::get<policy::sender_profile>(w.p->profile("acme"));
    benchmark::DoNotOptimize(w.p->check_mail(prof, from));
    benchmark::DoNotOptimize(w.p->check_rcpt(prof, rcpt));
    auto fields = message::parse_header_section(w.headers);
    benchmark::DoNotOptimize(w.p->check_headers(prof, *fields));
    w.p->committed(prof, 1);
  }
}
BENCHMARK(BM_policy_per_message)->Unit(benchmark::kMicrosecond);

void BM_profile(benchmark::State& state) {
  auto& w = the_world();
  for (auto _ : state) benchmark::DoNotOptimize(w.p->profile("acme"));
}
BENCHMARK(BM_profile)->Unit(benchmark::kMicrosecond);

void BM_check_rcpt(benchmark::State& state) {
  auto& w = the_world();
  auto prof = std::get<policy::sender_profile>(w.p->profile("acme"));
  auto rcpt = *smtp::parse_mailbox("bob@example.org");
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.p->check_rcpt(prof, rcpt));
    w.p->release(prof, 1);
  }
}
BENCHMARK(BM_check_rcpt)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
