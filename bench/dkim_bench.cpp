// DKIM signing cost per message (4 KiB body): the relaxed body hash, then
// the header canonicalisation and one signature per algorithm.
#include <benchmark/benchmark.h>

#include <string>

#include "dkim/signer.hpp"

using namespace smtpsd;

namespace {

const std::string headers =
    "Received: from client.example ([192.0.2.1])\r\n\tby mail.example.com (smtpsd) with ESMTPSA id 06H0BWCP3SB0ABTB\r\n"
    "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: benchmark\r\n"
    "Date: Mon, 23 Nov 2026 01:07:28 +0000\r\nMessage-ID: <06H0BWCP3SB0ABTB@mail.example.com>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n";

std::string body() {
  std::string b;
  while (b.size() < 4096) b += "The quick brown fox jumps over the lazy dog, again and again.  \r\n";
  return b;
}

void sign_with(benchmark::State& state, dkim::algorithm a) {
  const auto key = dkim::generate(a);
  const std::vector<dkim::signing_key> keys{{"example.com", "s1", a, key}};
  const auto b = body();
  for (auto _ : state) {
    dkim::body_hash h;
    h.update(b);
    auto sig = dkim::sign(keys, headers, h.finish_base64(), 1800000000);
    benchmark::DoNotOptimize(sig);
  }
}

void BM_sign_ed25519(benchmark::State& s) { sign_with(s, dkim::algorithm::ed25519); }
void BM_sign_rsa2048(benchmark::State& s) { sign_with(s, dkim::algorithm::rsa); }
void BM_body_hash_4k(benchmark::State& state) {
  const auto b = body();
  for (auto _ : state) {
    dkim::body_hash h;
    h.update(b);
    benchmark::DoNotOptimize(h.finish_base64());
  }
}

// Lines relaxed canonicalization leaves alone (base64, quoted-printable, most
// plain text): they go to the hash as whole spans.
void BM_body_hash_4k_clean(benchmark::State& state) {
  std::string b;
  for (int n = 0; b.size() < 4096; ++n) {
    for (int i = 0; i < 76; ++i) b += "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(n + i) % 64];
    b += "\r\n";
  }
  for (auto _ : state) {
    dkim::body_hash h;
    h.update(b);
    benchmark::DoNotOptimize(h.finish_base64());
  }
}

}  // namespace

BENCHMARK(BM_sign_ed25519);
BENCHMARK(BM_sign_rsa2048);
BENCHMARK(BM_body_hash_4k);
BENCHMARK(BM_body_hash_4k_clean);
BENCHMARK_MAIN();
