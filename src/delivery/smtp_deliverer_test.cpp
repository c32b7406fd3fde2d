// The SMTP deliverer against an in-process fake server: every step of the
// conversation failing in turn, TLS, connection reuse and the per-destination
// limit, BDAT, and what is decided before a command is sent.
#include "delivery/smtp_deliverer.hpp"

#include <gtest/gtest.h>



#include "delivery/testing/fake_smtp_server.hpp"
#include "net/testing/test_certificate.hpp"

using namespace smtpsd;
using namespace smtpsd::delivery;
using fakes::fake_script;
using fakes::fake_smtp_server;

namespace {

const std::string content = "From: a@example.com\r\nSubject: t\r\n\r\nline 1\r\n.starts with a dot\r\nend\r\n";

// Content handed over in pieces of `piece` octets.
class pieces final : public content_source {
 public:
  pieces(std::string s, std::size_t piece) : s_(std::move(s)), piece_(piece) {}
  net::awaitable<std::string_view> next() override {
    auto part = std::string_view(s_).substr(pos_, piece_);
    pos_ += part.size();
    co_return part;
  }

 private:
  std::string s_;
  std::size_t piece_;
  std::size_t pos_ = 0;
};

class failing_source final : public content_source {
 public:
  net::awaitable<std::string_view> next() override {
    if (calls_++ == 0) co_return std::string_view("Subject: x\r\n\r\nfirst part\r\n");
    throw std::runtime_error("spool read error");
  }

 private:
  int calls_ = 0;
};


struct deliverer_harness {
  net::asio::io_context io;
  net::worker_pool pool{1};
  std::unique_ptr<fake_smtp_server> server;
  std::unique_ptr<smtp_deliverer> d;

  explicit deliverer_harness(fake_script s = {}, unsigned per_destination = 10,
                   std::optional<smarthost_credentials> smarthost = std::nullopt) {
    server = std::make_unique<fake_smtp_server>(io, std::move(s));
    smtp_settings ss;
    ss.hostname = "client.test";
    const base::host_port to{"127.0.0.1", server->port()};
    if (smarthost)
      ss.routes.smarthost = to;
    else
      ss.routes.routes["*"] = to;
    ss.smarthost = smarthost;
    ss.per_destination = per_destination;
    ss.limits.connect = ss.limits.command = ss.limits.data = std::chrono::seconds(5);
    d = std::make_unique<smtp_deliverer>(pool, ss);
  }
  ~deliverer_harness() {
    d->reap(true);
    server->stop();
  }

  job make_job(std::vector<std::string> rcpts, std::string body = content, std::size_t piece = 1 << 20) {
    job j;
    j.queue_id = "TESTQUEUEID00001";
    j.from = "alice@example.com";
    j.mail.size = body.size();
    for (auto& r : rcpts) j.rcpts.push_back({r, {}, {}});
    j.hop = d->route("example.org");
    j.open = [body, piece] { return std::make_unique<pieces>(body, piece); };
    return j;
  }

  // Runs the coroutine on io until it is done.
  template <class T>
  T run(net::awaitable<T> a) {
    std::optional<T> out;
    std::exception_ptr error;
    net::asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
      error = e;
      if (!e) out = std::move(v);
    });
    while (!out && !error) io.run_one();
    if (error) std::rethrow_exception(error);
    return std::move(*out);
  }

  std::vector<outcome> deliver(const job& j) { return run(d->deliver(j)); }
};

}  // namespace

TEST(smtp_deliverer, delivers_pipelined_and_reports_each_recipient) {
  fake_script s;
  s.replies["RCPT nobody@example.org"] = "550 5.1.1 no such user";
  deliverer_harness h(s);
  auto out = h.deliver(h.make_job({"bob@example.org", "nobody@example.org"}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, outcome_kind::delivered);
  EXPECT_EQ(out[0].response, "250 2.0.0 queued");
  EXPECT_EQ(out[0].remote_mta, "127.0.0.1");
  EXPECT_EQ(out[1].kind, outcome_kind::failed);
  EXPECT_EQ(out[1].status, "5.1.1");
  EXPECT_TRUE(out[1].hard_bounce());
  ASSERT_EQ(h.server->messages.size(), 1u);
  EXPECT_EQ(h.server->messages[0].data, content) << "dot-stuffed on the wire, whole at the other end";
  EXPECT_EQ(h.server->messages[0].rcpts, std::vector<std::string>{"bob@example.org"});
  EXPECT_FALSE(h.server->messages[0].tls) << "no STARTTLS offered";
}

TEST(smtp_deliverer, one_command_at_a_time_without_pipelining) {
  fake_script s;
  s.extensions = {"8BITMIME"};
  s.replies["MAIL"] = "451 4.3.0 try later";
  deliverer_harness h(s);
  auto out = h.deliver(h.make_job({"bob@example.org", "carol@example.org"}));
  for (auto& o : out) {
    EXPECT_EQ(o.kind, outcome_kind::deferred);
    EXPECT_EQ(o.status, "4.3.0");
    EXPECT_TRUE(o.remote);
  }
  // MAIL refused: no RCPT was sent, and RSET makes the connection reusable.
  std::vector<std::string> verbs;
  for (auto& c : h.server->commands) verbs.push_back(c.substr(0, 4));
  EXPECT_EQ(verbs, (std::vector<std::string>{"EHLO", "MAIL", "RSET"}));
  h.server->script().replies.clear();
  EXPECT_EQ(h.deliver(h.make_job({"bob@example.org"}))[0].kind, outcome_kind::delivered);
  EXPECT_EQ(h.server->connections, 1) << "the connection was reused";
}

TEST(smtp_deliverer, helo_when_ehlo_is_refused) {
  fake_script s;
  s.replies["EHLO"] = "502 5.5.1 what";
  deliverer_harness h(s);
  EXPECT_EQ(h.deliver(h.make_job({"bob@example.org"}))[0].kind, outcome_kind::delivered);
  EXPECT_EQ(h.server->commands.at(1), "HELO client.test");
}

// Where the remote ends the conversation, and how the recipients come out.
struct drop_case {
  const char* at;
  outcome_kind kind;
  const char* in_response;
};

class smtp_deliverer_drops : public ::testing::TestWithParam<drop_case> {};

TEST_P(smtp_deliverer_drops, every_recipient_is_deferred_with_a_reason) {
  fake_script s;
  s.drop_at = GetParam().at;
  deliverer_harness h(s);
  auto out = h.deliver(h.make_job({"bob@example.org", "carol@example.org"}));
  for (auto& o : out) {
    EXPECT_EQ(o.kind, GetParam().kind) << o.response;
    EXPECT_NE(o.response.find(GetParam().in_response), std::string::npos) << o.response;
    EXPECT_TRUE(o.attempted);
  }
  EXPECT_TRUE(h.server->messages.empty());
}

INSTANTIATE_TEST_SUITE_P(steps, smtp_deliverer_drops,
                         ::testing::Values(drop_case{"BANNER", outcome_kind::deferred, "no mail host answered"},
                                           drop_case{"EHLO", outcome_kind::deferred, "no mail host answered"},
                                           drop_case{"MAIL", outcome_kind::deferred, "lost"},
                                           drop_case{"RCPT", outcome_kind::deferred, "lost"},
                                           drop_case{"DATA", outcome_kind::deferred, "lost"},
                                           drop_case{".", outcome_kind::deferred, "lost"}));

// A refusal at one step, and what every recipient comes to.
struct refusal_case {
  const char* step;
  const char* reply;
  outcome_kind kind;
  const char* status;
  const char* in_response;
};

class smtp_deliverer_refusals : public ::testing::TestWithParam<refusal_case> {};

TEST_P(smtp_deliverer_refusals, decide_every_recipient) {
  const auto& c = GetParam();
  fake_script s;
  s.replies[c.step] = c.reply;
  deliverer_harness h(s);
  for (auto& o : h.deliver(h.make_job({"bob@example.org", "carol@example.org"}))) {
    EXPECT_EQ(o.kind, c.kind) << o.response;
    EXPECT_EQ(o.status, c.status);
    EXPECT_NE(o.response.find(c.in_response), std::string::npos) << o.response;
  }
  EXPECT_TRUE(h.server->messages.empty());
}

INSTANTIATE_TEST_SUITE_P(
    steps, smtp_deliverer_refusals,
    ::testing::Values(
        refusal_case{"BANNER", "554 5.7.1 go away", outcome_kind::deferred, "4.4.1", "greeting 554 5.7.1 go away"},
        refusal_case{"RCPT", "550 5.1.1 unknown", outcome_kind::failed, "5.1.1", "550 5.1.1 unknown"},
        refusal_case{"DATA", "554 5.6.0 content refused", outcome_kind::failed, "5.6.0", "content refused"},
        refusal_case{".", "452 4.3.1 disk full", outcome_kind::deferred, "4.3.1", "452 4.3.1 disk full"},
        refusal_case{".", "554 5.7.1 spam", outcome_kind::failed, "5.7.1", "554 5.7.1 spam"}));

TEST(smtp_deliverer, no_accepted_recipient_means_no_data_and_a_reset) {
  fake_script s;
  s.replies["RCPT"] = "550 5.1.1 unknown";
  deliverer_harness h(s);
  h.deliver(h.make_job({"bob@example.org", "carol@example.org"}));
  // The pipelined DATA got 554 from the server; no content follows, and RSET
  // leaves the connection ready for the next transaction.
  EXPECT_EQ(h.server->commands.back(), "RSET");
  EXPECT_TRUE(h.server->messages.empty());
  EXPECT_EQ(h.deliver(h.make_job({"dave@example.org"}, content))[0].kind, outcome_kind::failed);
  EXPECT_EQ(h.server->connections, 1);
}

TEST(smtp_deliverer, failed_starttls_never_falls_back_to_plaintext) {
  fake_script s;
  s.tls = net::testing::test_certificate("fake.test");
  s.broken_tls = true;
  deliverer_harness h(s);
  auto o = h.deliver(h.make_job({"bob@example.org"}))[0];
  EXPECT_EQ(o.kind, outcome_kind::deferred);
  EXPECT_NE(o.response.find("STARTTLS"), std::string::npos) << o.response;
  for (auto& c : h.server->commands) EXPECT_NE(c.substr(0, 4), "MAIL") << "nothing is sent in the clear";
}

TEST(smtp_deliverer, opportunistic_starttls_with_a_self_signed_certificate) {
  fake_script s;
  s.tls = net::testing::test_certificate("fake.test");
  deliverer_harness h(s);
  EXPECT_EQ(h.deliver(h.make_job({"bob@example.org"}))[0].kind, outcome_kind::delivered);
  ASSERT_EQ(h.server->messages.size(), 1u);
  EXPECT_TRUE(h.server->messages[0].tls);
}

TEST(smtp_deliverer, connections_are_reused_until_reaped) {
  deliverer_harness h;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(h.deliver(h.make_job({"bob@example.org"}))[0].kind, outcome_kind::delivered);
  EXPECT_EQ(h.server->connections, 1);
  EXPECT_EQ(h.server->messages.size(), 3u);
  h.d->reap(true);
  EXPECT_EQ(h.deliver(h.make_job({"bob@example.org"}))[0].kind, outcome_kind::delivered);
  EXPECT_EQ(h.server->connections, 2) << "a reaped connection is not reused";
}

TEST(smtp_deliverer, a_stale_idle_connection_is_replaced) {
  deliverer_harness h;
  EXPECT_EQ(h.deliver(h.make_job({"bob@example.org"}))[0].kind, outcome_kind::delivered);
  h.server->stop();  // closes the idle connection from the server's side, and the listener
  // The stale connection must be noticed and not count as the answer: a
  // fresh one is tried (and finds nobody listening).
  auto o = h.deliver(h.make_job({"bob@example.org"}))[0];
  EXPECT_EQ(o.kind, outcome_kind::deferred);
  EXPECT_EQ(o.status, "4.4.1") << "tried a fresh connection after the stale one: " << o.response;
}

TEST(smtp_deliverer, per_destination_limit_holds_under_concurrency) {
  deliverer_harness h({}, 1);
  std::vector<std::vector<outcome>> results(4);
  int done = 0;
  auto j = h.make_job({"bob@example.org"});
  for (auto& r : results)
    net::asio::co_spawn(h.io, h.d->deliver(j), [&](std::exception_ptr, std::vector<outcome> v) {
      r = std::move(v);
      ++done;
    });
  while (done < 4) h.io.run_one();
  for (auto& r : results) EXPECT_EQ(r.at(0).kind, outcome_kind::delivered);
  EXPECT_EQ(h.server->max_concurrent, 1);
  EXPECT_EQ(h.server->messages.size(), 4u);
}

TEST(smtp_deliverer, waiting_jobs_give_up_on_shutdown) {
  deliverer_harness h({}, 1);
  auto j = h.make_job({"bob@example.org"});
  std::optional<std::vector<outcome>> first, second;
  net::asio::co_spawn(h.io, h.d->deliver(j), [&](std::exception_ptr, std::vector<outcome> v) { first = v; });
  net::asio::co_spawn(h.io, h.d->deliver(j), [&](std::exception_ptr, std::vector<outcome> v) { second = v; });
  // Until the first is in its transaction (connected); the second waits for the slot.
  while (h.server->connections == 0) h.io.run_one();
  h.d->shutdown();
  while (!first || !second) h.io.run_one();
  EXPECT_EQ(first->at(0).kind, outcome_kind::delivered) << "a job under way finishes";
  EXPECT_FALSE(second->at(0).attempted) << "a waiting job is not attempted";
}

TEST(smtp_deliverer, bdat_in_chunks) {
  fake_script s;
  s.extensions = {"PIPELINING", "CHUNKING", "8BITMIME"};
  deliverer_harness h(s);
  std::string big = "Subject: big\r\n\r\n";
  for (int i = 0; i < 2000; ++i) big += ".line " + std::to_string(i) + "\r\n";
  EXPECT_EQ(h.deliver(h.make_job({"bob@example.org"}, big, 4096))[0].kind, outcome_kind::delivered);
  ASSERT_EQ(h.server->messages.size(), 1u);
  EXPECT_EQ(h.server->messages[0].data, big) << "BDAT sends the content as it is";
  int chunks = 0;
  for (auto& c : h.server->commands) chunks += c.starts_with("BDAT");
  EXPECT_GT(chunks, 1);
}

TEST(smtp_deliverer, what_the_remote_cannot_take_fails_before_mail) {
  fake_script s;
  s.extensions = {"PIPELINING", "SIZE 100"};
  deliverer_harness h(s);
  auto j = h.make_job({"bob@example.org"});
  j.mail.smtputf8 = true;
  auto o = h.deliver(j)[0];
  EXPECT_EQ(o.kind, outcome_kind::failed);
  EXPECT_EQ(o.status, "5.6.7");
  j.mail.smtputf8 = false;
  j.mail.size = 5000;
  o = h.deliver(j)[0];
  EXPECT_EQ(o.kind, outcome_kind::failed);
  EXPECT_EQ(o.status, "5.3.4");
  for (auto& c : h.server->commands) EXPECT_NE(c.substr(0, 4), "MAIL");
}

TEST(smtp_deliverer, a_spool_read_error_drops_the_connection_mid_message) {
  deliverer_harness h;
  auto j = h.make_job({"bob@example.org"});
  j.open = [] { return std::make_unique<failing_source>(); };
  auto o = h.deliver(j)[0];
  EXPECT_EQ(o.kind, outcome_kind::deferred);
  EXPECT_EQ(o.status, "4.3.0");
  EXPECT_NE(o.response.find("spool read error"), std::string::npos);
  EXPECT_TRUE(h.server->messages.empty()) << "the remote never takes half a message";
}

TEST(smtp_deliverer, smarthost_credentials_never_go_in_the_clear) {
  smarthost_credentials c;
  c.username = "user";
  c.password = "secret";
  deliverer_harness h({}, 10, c);
  auto o = h.deliver(h.make_job({"bob@example.org"}))[0];
  EXPECT_EQ(o.kind, outcome_kind::deferred);
  EXPECT_EQ(o.status, "4.7.10");
  for (auto& cmd : h.server->commands) EXPECT_NE(cmd.substr(0, 4), "AUTH");
}

TEST(smtp_deliverer, dsn_parameters_go_on_the_wire_when_offered) {
  deliverer_harness h;
  auto j = h.make_job({"bob@example.org"});
  j.mail.ret = base::dsn_ret::hdrs;
  j.mail.envid = "E1";
  j.mail.body = base::body_type::eight_bit_mime;
  j.rcpts[0].notify = base::dsn_notify(base::dsn_notify::failure | base::dsn_notify::delay);
  j.rcpts[0].orcpt = "rfc822;bob@example.org";
  EXPECT_EQ(h.deliver(j)[0].kind, outcome_kind::delivered);
  EXPECT_EQ(h.server->commands.at(1),
            "MAIL FROM:<alice@example.com> SIZE=" + std::to_string(content.size()) + " BODY=8BITMIME RET=HDRS ENVID=E1");
  EXPECT_EQ(h.server->commands.at(2), "RCPT TO:<bob@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob@example.org");
}
