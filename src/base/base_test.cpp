#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/base64.hpp"
#include "base/block_cache.hpp"
#include "base/crc32c.hpp"
#include "base/ids.hpp"
#include "base/keyed_hash.hpp"
#include "base/ip.hpp"
#include "base/json_out.hpp"
#include "base/log.hpp"
#include "base/malloc_tuning.hpp"
#include "base/metrics.hpp"
#include "base/random.hpp"
#include "base/secret.hpp"
#include "base/strings.hpp"
#include "base/thread.hpp"
#include "base/time_format.hpp"

using namespace smtpsd::base;

TEST(base64, round_trip_and_rejects_garbage) {
  EXPECT_EQ(base64_encode(std::string("\0user\0pass", 10)), "AHVzZXIAcGFzcw==");
  EXPECT_EQ(base64_decode("AHVzZXIAcGFzcw==").value(), std::string("\0user\0pass", 10));
  EXPECT_FALSE(base64_decode("AHVz!XIAcGFzcw=="));
  EXPECT_FALSE(base64_decode("AHVzZXIAcGFzcw="));  // bad padding
  EXPECT_EQ(base64_decode("").value(), "");
}

namespace smtpsd::base::testing {
std::uint32_t crc32c_portable(std::uint32_t crc, std::string_view bytes);
}

TEST(crc32c, rfc3720_vectors_in_pieces_and_both_implementations) {
  using smtpsd::base::crc32c;
  std::string zeros(32, '\0'), ones(32, '\xff'), up(32, '\0');
  for (int i = 0; i < 32; ++i) up[static_cast<std::size_t>(i)] = static_cast<char>(i);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(crc32c(""), 0u);
  std::string text = "The quick brown fox jumps over the lazy dog, more than eight octets at a time";
  for (std::size_t cut = 0; cut <= text.size(); cut += 7)
    EXPECT_EQ(smtpsd::base::crc32c_extend(crc32c(text.substr(0, cut)), text.substr(cut)), crc32c(text));
  EXPECT_EQ(smtpsd::base::testing::crc32c_portable(0, text), crc32c(text));
  EXPECT_EQ(smtpsd::base::testing::crc32c_portable(crc32c("123"), "456789"), 0xE3069283u);
}

TEST(keyed_hash, pieces_make_the_whole_and_finish_starts_again) {
  keyed_hash h;
  h.update("hello, ");
  h.update("world");
  const auto pieces = h.finish();
  h.update("hello, world");
  EXPECT_EQ(h.finish(), pieces) << "finish() starts again, empty";
  h.update("hello, worle");
  EXPECT_NE(h.finish(), pieces);
  keyed_hash other;  // the same secret in one process
  other.update("hello, world");
  EXPECT_EQ(other.finish(), pieces);
  const keyed_hash::digest empty_digest = other.finish();
  EXPECT_NE(empty_digest, pieces);
  other.update(empty_digest);
  EXPECT_NE(other.finish(), empty_digest) << "a digest fed back is an input like any other";
}

TEST(ids, sortable_and_valid) {
  auto t = from_unix_seconds(1'800'000'000);
  auto a = make_queue_id(t, 5);
  auto b = make_queue_id(t + std::chrono::milliseconds(1), 0);
  EXPECT_EQ(a.size(), 16u);
  EXPECT_LT(a, b);
  EXPECT_TRUE(is_queue_id(a));
  EXPECT_FALSE(is_queue_id("../../etc/passwd"));
  EXPECT_FALSE(is_queue_id("0123456789ABCDEI"));  // I is not in the alphabet
  const auto made = smtpsd::base::from_unix_seconds(1'800'000'123);
  EXPECT_EQ(smtpsd::base::queue_id_time(smtpsd::base::make_queue_id(made, 0xFFFFFFFFu)), made);
}

TEST(time_format, rfc3339_and_5322) {
  auto t = from_unix_seconds(1795387080);  // 2026-11-22T22:38:00Z
  EXPECT_EQ(rfc3339(t), "2026-11-22T22:38:00Z");
  EXPECT_EQ(rfc5322_date(t), "Sun, 22 Nov 2026 22:38:00 +0000");
  EXPECT_EQ(parse_rfc3339("2026-11-22T22:38:00Z").value(), t);
  // Each thread keeps the last second's text: within it, and back and forth.
  EXPECT_EQ(rfc3339(t + std::chrono::milliseconds(999)), "2026-11-22T22:38:00Z");
  EXPECT_EQ(rfc3339(t + std::chrono::seconds(1)), "2026-11-22T22:38:01Z");
  EXPECT_EQ(rfc5322_date(t + std::chrono::hours(24)), "Mon, 23 Nov 2026 22:38:00 +0000");
  EXPECT_EQ(rfc3339(t), "2026-11-22T22:38:00Z");
  EXPECT_EQ(rfc5322_date(t + std::chrono::milliseconds(500)), "Sun, 22 Nov 2026 22:38:00 +0000");
  EXPECT_EQ(rfc3339_ms(t + std::chrono::milliseconds(7)), "2026-11-22T22:38:00.007Z");
}

TEST(ip, cidr_matching_v4_and_v6) {
  auto net = cidr::parse("10.1.0.0/16").value();
  EXPECT_TRUE(net.contains(ip_address::parse("10.1.200.3").value()));
  EXPECT_FALSE(net.contains(ip_address::parse("10.2.0.1").value()));
  EXPECT_FALSE(net.contains(ip_address::parse("::1").value()));
  auto v6 = cidr::parse("2001:db8::/32").value();
  EXPECT_TRUE(v6.contains(ip_address::parse("2001:db8:1::5").value()));
  EXPECT_FALSE(v6.contains(ip_address::parse("10.1.200.3").value()));
  EXPECT_EQ(cidr::parse("10.1.2.3/8")->to_string(), "10.0.0.0/8");
  EXPECT_FALSE(cidr::parse("10.0.0.0/33"));
  EXPECT_FALSE(cidr::parse("nonsense"));
  EXPECT_TRUE(cidr::parse("0.0.0.0/0")->contains(ip_address::parse("1.2.3.4").value()));
}

TEST(ip, host_port) {
  EXPECT_EQ(host_port::parse("0.0.0.0:465", false)->port, 465);
  EXPECT_EQ(host_port::parse("[::]:587", false)->host, "::");
  EXPECT_FALSE(host_port::parse("::1:25", false));
  EXPECT_FALSE(host_port::parse("1.2.3.4:70000", false));
  EXPECT_FALSE(host_port::parse("mail.example.com:25", false));
  EXPECT_EQ(host_port::parse("mail.example.com:25", true)->host, "mail.example.com");
}

TEST(strings, all_parts_visits_what_split_returns_and_stops_early) {
  for (std::string_view s : {"", "a", "a.b", ".a..b.", "..", "example.org"}) {
    std::vector<std::string_view> seen;
    EXPECT_TRUE(all_parts(s, '.', [&](std::string_view p) {
      seen.push_back(p);
      return true;
    }));
    EXPECT_EQ(seen, split(s, '.')) << s;
  }
  int calls = 0;
  EXPECT_FALSE(all_parts("a.bad.c", '.', [&](std::string_view p) {
    ++calls;
    return p != "bad";
  }));
  EXPECT_EQ(calls, 2);
}

TEST(strings, utf8_validation) {
  EXPECT_TRUE(valid_utf8("grüße"));
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("abc\xE2\x82"));       // truncated
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));   // emoji
}

TEST(secret, never_formats_its_value) {
  secret_string s("hunter2");
  EXPECT_EQ(fmt::format("{}", s), "<redacted>");
  EXPECT_EQ(s.expose(), "hunter2");
}

TEST(metrics, renders_prometheus_text) {
  metrics_registry r;
  r.get_counter("t_total", "help", {{"reason", "x"}}).inc(3);
  r.get_histogram("t_seconds", "h", {0.1, 1}).observe(0.5);
  auto text = r.render_prometheus();
  EXPECT_NE(text.find("t_total{reason=\"x\"} 3"), std::string::npos);
  EXPECT_NE(text.find("t_seconds_bucket{le=\"1\"} 1"), std::string::npos);
  EXPECT_NE(text.find("t_seconds_count 1"), std::string::npos);
}

TEST(json_out, writes_what_nlohmann_json_writes) {
  std::string out;
  json_out w(out);
  w.begin_object()
      .member("s", "a\"b\\c\n\x01")
      .key("list").strings({"x", "caf\xc3\xa9"})
      .key("none").null()
      .key("empty").string_or_null("")
      .member("n", std::int64_t{-42})
      .member("yes", true)
      .key("nested").begin_object().key("arr").begin_array().begin_array().end_array().value(std::uint64_t{7}).end_array()
      .end_object()
      .member("k\"ey", "")                        // a name to escape: the general path
      .member(std::string(70, 'k'), "plain")     // too long for the names' one append
      .end_object();
  nlohmann::ordered_json j;
  j["s"] = "a\"b\\c\n\x01";
  j["list"] = {"x", "caf\xc3\xa9"};
  j["none"] = nullptr;
  j["empty"] = nullptr;
  j["n"] = -42;
  j["yes"] = true;
  j["nested"]["arr"] = nlohmann::ordered_json::array({nlohmann::ordered_json::array(), 7});
  j["k\"ey"] = "";
  j[std::string(70, 'k')] = "plain";
  EXPECT_EQ(out, j.dump());
}

TEST(json_out, invalid_utf8_becomes_the_replacement_character) {
  std::string out;
  append_json_string(out, "a\xff" "b\xc3");
  EXPECT_EQ(out, "\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD\"");
  EXPECT_TRUE(valid_utf8(out));
}

TEST(json_out, every_octet_at_every_place_of_a_long_string_is_escaped_as_nlohmann_does) {
  // The plain runs are found eight octets at a time: each special octet must
  // stop them wherever it sits in a word.
  for (int c = 0; c < 0x80; ++c)
    for (std::size_t at = 0; at < 21; ++at) {
      std::string s(21, 'a');
      s[at] = static_cast<char>(c);
      std::string out;
      append_json_string(out, s);
      ASSERT_EQ(out, nlohmann::json(s).dump()) << "octet " << c << " at " << at;
    }
  for (std::size_t at = 0; at < 21; ++at) {
    std::string s(21, '~');
    s[at] = '\xff';
    std::string out;
    append_json_string(out, s);
    EXPECT_EQ(out, "\"" + std::string(at, '~') + "\xEF\xBF\xBD" + std::string(20 - at, '~') + "\"") << at;
    s[at] = '\x7f';  // DEL needs no escaping
    out.clear();
    append_json_string(out, s);
    EXPECT_EQ(out, "\"" + s + "\"");
  }
}

TEST(metrics, a_callback_gauge_keeps_its_last_reading_when_its_registration_goes) {
  metrics_registry r;
  double now = 3;
  {
    gauge_callback g(r, "test_gauge", "a gauge", [&] { return now; });
    EXPECT_EQ(r.value("test_gauge"), 3);
    now = 5;
    EXPECT_EQ(r.value("test_gauge"), 5) << "read when asked";
    gauge_callback moved = std::move(g);
    now = 7;
    EXPECT_EQ(r.value("test_gauge"), 7) << "a move keeps it registered";
  }
  now = 11;  // the registration is gone: the callback must not be called again
  EXPECT_EQ(r.value("test_gauge"), 7);
  EXPECT_NE(r.render_prometheus().find("test_gauge 7"), std::string::npos);
}

TEST(system_random, words_do_not_repeat_across_refills) {
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(real_random().next_u64());  // 31 refills of 32 words
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(system_random, a_forked_child_draws_other_words_than_its_parent) {
  real_random().next_u64();  // this thread now holds words drawn before the fork
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::uint64_t v = real_random().next_u64();
    const bool sent = ::write(fds[1], &v, sizeof v) == static_cast<ssize_t>(sizeof v);
    ::_exit(sent ? 0 : 1);
  }
  std::uint64_t theirs = 0;
  ASSERT_EQ(::read(fds[0], &theirs, sizeof theirs), static_cast<ssize_t>(sizeof theirs));
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_NE(real_random().next_u64(), theirs);  // the word the parent hands out next is not the child's
}

namespace bc = smtpsd::base::block_cache;

TEST(block_cache, a_block_given_back_is_taken_again_on_the_same_thread) {
  while (bc::spares() > 0) std::free(bc::take());  // start with none
  void* a = bc::take();
  ASSERT_NE(a, nullptr);
  bc::give(a);
  EXPECT_EQ(bc::spares(), 1);
  EXPECT_EQ(bc::take(), a);
  EXPECT_EQ(bc::spares(), 0);
  bc::give(a);
  bc::give(nullptr);
  EXPECT_EQ(bc::spares(), 1);
}

TEST(block_cache, keeps_only_blocks_of_its_size_and_only_a_few) {
  while (bc::spares() > 0) std::free(bc::take());
  bc::give(std::malloc(100));  // another size: freed, not kept
  bc::give(std::malloc(bc::block_size / 2));
  EXPECT_EQ(bc::spares(), 0);
  bc::give(std::malloc(bc::block_size));  // any block of the size counts, not only take()'s
  EXPECT_EQ(bc::spares(), 1);
  for (int i = 0; i < bc::spares_per_thread + 3; ++i) bc::give(std::malloc(bc::block_size));
  EXPECT_EQ(bc::spares(), bc::spares_per_thread);
  while (bc::spares() > 0) std::free(bc::take());
}

TEST(block_cache, keeps_a_few_blocks_above_glibcs_thread_cache_for_the_requests_they_fit) {
  std::thread([] {  // a thread of its own: no spares yet, and its end frees them (ASan would tell)
    void* mid = std::malloc(3000);
    bc::give(mid);
    EXPECT_EQ(bc::odd_spares(), 1);
    EXPECT_EQ(bc::spares(), 0) << "not a record block";
    void* small = bc::take(2000);  // it would waste a third of the spare
    void* large = bc::take(3100);  // the spare is too small
    EXPECT_NE(small, mid);
    EXPECT_NE(large, mid);
    EXPECT_EQ(bc::take(2900), mid);
    EXPECT_EQ(bc::odd_spares(), 0);
    std::free(small);
    std::free(large);
    std::free(mid);
    bc::give(std::malloc(bc::odd_floor - 100));  // glibc's own cache takes those
    bc::give(std::malloc(bc::odd_limit + 100));  // neither kind
    EXPECT_EQ(bc::odd_spares(), 0);
    for (int i = 0; i < bc::odd_spares_per_thread + 3; ++i) bc::give(std::malloc(4000));
    EXPECT_EQ(bc::odd_spares(), bc::odd_spares_per_thread);
  }).join();
}

TEST(malloc_tuning, adds_the_tcache_count_once_and_keeps_the_operators_tunables) {
  EXPECT_EQ(tunables_with_tcache(nullptr), "glibc.malloc.tcache_count=64");
  EXPECT_EQ(tunables_with_tcache(""), "glibc.malloc.tcache_count=64");
  EXPECT_EQ(tunables_with_tcache("glibc.malloc.arena_max=2"),
            "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=64");
  EXPECT_EQ(tunables_with_tcache("glibc.malloc.tcache_count=7"), std::nullopt) << "the operator's own count";
  EXPECT_EQ(tunables_with_tcache("glibc.malloc.arena_max=2:glibc.malloc.tcache_count=64"), std::nullopt)
      << "the second start";
}

TEST(start_thread, named_and_free_to_run_on_the_main_threads_cpus_even_from_a_pinned_thread) {
  const auto all = smtpsd::base::process_cpus();
  ASSERT_GT(CPU_COUNT(&all), 0);
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  char name[16] = {};
  int cpus_seen = -1;
  std::thread pinned([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    smtpsd::base::start_thread("smtpsd-a-long-name-cut", [&] {
      pthread_getname_np(pthread_self(), name, sizeof name);
      cpu_set_t mine;
      CPU_ZERO(&mine);
      sched_getaffinity(0, sizeof mine, &mine);
      cpus_seen = CPU_EQUAL(&mine, &all) ? 1 : 0;
    }).join();
  });
  pinned.join();
  EXPECT_STREQ(name, "smtpsd-a-long-n");
  EXPECT_EQ(cpus_seen, 1) << "not the one CPU of the thread that started it";
}

namespace {
std::string json_line(spdlog::formatter& f, std::chrono::system_clock::time_point t, spdlog::level::level_enum level,
                      std::string_view module, std::string_view text) {
  spdlog::details::log_msg msg(t, spdlog::source_loc{}, spdlog::string_view_t(module.data(), module.size()), level,
                               spdlog::string_view_t(text.data(), text.size()));
  spdlog::memory_buf_t out;
  f.format(msg, out);
  return std::string(out.data(), out.size());
}
}  // namespace

TEST(log, json_lines_are_exact_and_escaped) {
  auto f = smtpsd::base::make_json_formatter();
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'796'023'418'007));
  EXPECT_EQ(json_line(*f, t, spdlog::level::info, "server", "session=ab queued"),
            R"({"time":"2026-11-30T07:23:38.007Z","level":"info","module":"server","msg":"session=ab queued"})" "\n");
  // Milliseconds to the end of a second, and over into the next.
  EXPECT_EQ(json_line(*f, t + std::chrono::milliseconds(990), spdlog::level::warn, "queue", "a \"b\" c\\d"),
            R"({"time":"2026-11-30T07:23:38.997Z","level":"warning","module":"queue","msg":"a \"b\" c\\d"})" "\n");
  EXPECT_EQ(json_line(*f, t + std::chrono::milliseconds(993), spdlog::level::err, "x", std::string("\t\r\n\x01\x7f\xc3\xa9", 7)),
            "{\"time\":\"2026-11-30T07:23:39.000Z\",\"level\":\"error\",\"module\":\"x\",\"msg\":\"\\t\\r\\n\\u0001\x7f\xc3\xa9\"}\n");
  EXPECT_EQ(json_line(*f, t - std::chrono::hours(24), spdlog::level::info, "m", ""),
            R"({"time":"2026-11-29T07:23:38.007Z","level":"info","module":"m","msg":""})" "\n");
  // Every line parses as JSON and gives back the text.
  const std::string text = "q\"\\\x1f end";
  auto j = nlohmann::json::parse(json_line(*f, t, spdlog::level::info, "m", text));
  EXPECT_EQ(j["msg"], text);
  // Escaped as every JSON string smtpsd writes: a byte that starts no UTF-8
  // sequence becomes U+FFFD, so the line still parses.
  auto bad = nlohmann::json::parse(json_line(*f, t, spdlog::level::info, "m", std::string("a\xff" "b")));
  EXPECT_EQ(bad["msg"], "a\xEF\xBF\xBD" "b");
}
