// A session in this process, over a loopback socket pair, with in-memory
// stores: the whole submission dialogue without starting `smtpsd serve`.
#include "server/session.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <thread>

#include "base/base64.hpp"
#include "net/coro.hpp"
#include "net/testing/test_certificate.hpp"
#include "net/listener.hpp"
#include "net/tls.hpp"
#include "sasl/testing/scram_client.hpp"
#include "events/testing/recording_sink.hpp"
#include "store/memory/memory_stores.hpp"

using namespace smtpsd;
using namespace std::chrono_literals;
namespace asio = net::asio;

namespace {



const std::string password = "correct horse";

// The server side: real session objects on an io_context thread.
struct server_side {
  store::stores s = store::memory::open();
  net::worker_pool pool{2};
  events::testing::recording_sink events;
  policy::auth_throttle throttle{base::real_clock(), 5, 600s};
  policy::authenticator auth{s.accounts, base::real_clock(), 5min, &throttle};
  policy::submission_policy policy{s.accounts, s.suppressions, s.queue, base::real_clock(), {}};
  policy::connection_limits connections{100, 100};
  submission::group_committer committer;
  submission::submitter submit{s, committer, {"mail.test", 1024 * 1024, nullptr, {}}, base::real_clock(),
                               base::real_random(), &events};
  asio::io_context io{1};
  net::tcp::acceptor acceptor = net::bind_acceptor(io, "127.0.0.1", 0);
  std::shared_ptr<server::session_settings> settings = std::make_shared<server::session_settings>();
  std::thread thread;

  explicit server_side(std::optional<std::uint64_t> max_24h = std::nullopt, submission::gathering g = {})
      : committer(s.bodies, s.queue, g) {
    store::account a;
    a.name = "acme";
    a.max_24h = max_24h;
    auto acct = *s.accounts->create_account(a);
    s.accounts->add_identity(acct.id, "example.com", store::identity_kind::domain);
    s.accounts->create_credential(acct.id, "alice", policy::authenticator::hash_password(password), policy::authenticator::scram_record(password));
    settings->hostname = "mail.test";
    settings->listener.mode = config::listener_mode::starttls;
    net::spawn(io.get_executor(), accept(), "test acceptor");
    thread = std::thread([this] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  ~server_side() {
    io.stop();
    thread.join();
    // A pool thread can still be finishing a job that handed its result to io
    // (it releases its copy of io's executor last): join it before io goes.
    pool.stop();
    committer.stop();
  }
  net::awaitable<void> accept() {
    for (;;) {
      auto a = co_await net::accept(acceptor);
      if (a.ec) co_return;
      auto s = std::make_shared<server::session>(
          std::move(a.socket), net::testing::test_certificate("mail.test"), settings,
          server::services{&pool, &auth, &policy, &connections, &submit, &events});
      asio::co_spawn(io, s->run(), [s](std::exception_ptr) {});  // the handler keeps the session alive
    }
  }
};

// The client side: blocking Asio in the test's thread.
class client {
 public:
  explicit client(std::uint16_t port) : sock_(io_), ctx_(net::ssl::context::tls_client) {
    sock_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  void send(const std::string& bytes) {
    if (tls_)
      asio::write(*tls_, asio::buffer(bytes));
    else
      asio::write(sock_, asio::buffer(bytes));
  }
  // One reply, its lines joined by '\n'.
  std::string reply() {
    std::string all;
    for (;;) {
      std::size_t n = tls_ ? asio::read_until(*tls_, buf_, "\r\n") : asio::read_until(sock_, buf_, "\r\n");
      std::string line(asio::buffers_begin(buf_.data()), asio::buffers_begin(buf_.data()) + static_cast<long>(n) - 2);
      buf_.consume(n);
      all += (all.empty() ? "" : "\n") + line;
      if (line.size() < 4 || line[3] != '-') return all;
    }
  }
  std::string cmd(const std::string& line) {
    send(line + "\r\n");
    return reply();
  }
  void start_tls() {
    tls_ = std::make_unique<net::ssl::stream<net::tcp::socket&>>(sock_, ctx_);
    tls_->handshake(net::ssl::stream_base::client);
  }
  std::string exporter() { return net::tls_exporter(tls_->native_handle()); }
  void starttls_ehlo() {
    reply();
    cmd("EHLO client.test");
    ASSERT_EQ(cmd("STARTTLS").substr(0, 3), "220");
    start_tls();
  }
  // A SCRAM exchange up to the server's answer to the proof.
  std::string scram(const std::string& mech, sasl::testing::scram_client& sc) {
    auto r = cmd("AUTH " + mech + " " + base::base64_encode(sc.first()));
    if (r.substr(0, 4) != "334 ") return r;
    r = cmd(base::base64_encode(sc.final_message(base::base64_decode(r.substr(4)).value_or(""))));
    if (r.substr(0, 4) != "334 ") return r;
    if (base::base64_decode(r.substr(4)) != sc.expected_server_final()) return "server-final is wrong: " + r;
    return cmd("");
  }
  void login() {
    cmd("EHLO client.test");
    ASSERT_EQ(cmd("STARTTLS").substr(0, 3), "220");
    start_tls();
    cmd("EHLO client.test");
    const std::string token = std::string(1, '\0') + "alice" + std::string(1, '\0') + password;
    ASSERT_EQ(cmd("AUTH PLAIN " + base::base64_encode(token)).substr(0, 3), "235");
  }

 private:
  asio::io_context io_;
  net::tcp::socket sock_;
  net::ssl::context ctx_;
  std::unique_ptr<net::ssl::stream<net::tcp::socket&>> tls_;
  asio::streambuf buf_;
};

}  // namespace

TEST(session, a_whole_submission_over_starttls) {
  server_side srv;
  client c(srv.acceptor.local_endpoint().port());
  EXPECT_EQ(c.reply().substr(0, 15), "220 mail.test E");
  auto ehlo = c.cmd("EHLO client.test");
  EXPECT_NE(ehlo.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(ehlo.find("AUTH"), std::string::npos) << "no AUTH before TLS";
  EXPECT_EQ(c.cmd("AUTH PLAIN AGFsaWNlAHg="), "538 5.7.11 Encryption required for requested authentication mechanism");
  ASSERT_EQ(c.cmd("STARTTLS").substr(0, 3), "220");
  c.start_tls();
  EXPECT_NE(c.cmd("EHLO client.test").find("AUTH PLAIN LOGIN"), std::string::npos);
  const std::string token = std::string(1, '\0') + "alice" + std::string(1, '\0') + password;
  EXPECT_EQ(c.cmd("AUTH PLAIN " + base::base64_encode(token)).substr(0, 3), "235");
  EXPECT_EQ(c.cmd("MAIL FROM:<alice@example.com>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<bob@example.org>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA").substr(0, 3), "354");
  auto queued = c.cmd("From: alice@example.com\r\nSubject: hi\r\n\r\n..dot\r\n.");
  ASSERT_EQ(queued.substr(0, 24), "250 2.0.0 Ok: queued as ") << queued;
  const auto id = queued.substr(24);
  auto m = srv.s.queue->get(id);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->account, "acme");
  EXPECT_EQ(m->recipients.at(0).address, "bob@example.org");
  auto body = srv.s.bodies->open(id)->read_all();
  EXPECT_TRUE(body.ends_with("\r\n\r\n.dot\r\n")) << "dot-unstuffed";
  ASSERT_EQ(srv.events.of("send").size(), 1u);
  EXPECT_EQ(srv.events.of("send")[0].queue_id, id);
  EXPECT_EQ(c.cmd("QUIT").substr(0, 3), "221");
}

TEST(session, plaintext_pipelined_behind_starttls_is_discarded) {
  server_side srv;
  client c(srv.acceptor.local_endpoint().port());
  c.reply();
  c.cmd("EHLO client.test");
  c.send("STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n");
  ASSERT_EQ(c.reply().substr(0, 3), "220");
  c.start_tls();
  EXPECT_EQ(c.cmd("NOOP").substr(0, 3), "250") << "the injected MAIL is never answered inside TLS";
}

TEST(session, wrong_password_and_unknown_account) {
  server_side srv;
  client c(srv.acceptor.local_endpoint().port());
  c.reply();
  c.cmd("EHLO client.test");
  c.cmd("STARTTLS");
  c.start_tls();
  c.cmd("EHLO client.test");
  const std::string token = std::string(1, '\0') + "alice" + std::string(1, '\0') + "wrong";
  EXPECT_EQ(c.cmd("AUTH PLAIN " + base::base64_encode(token)).substr(0, 9), "535 5.7.8");
  EXPECT_EQ(c.cmd("MAIL FROM:<alice@example.com>").substr(0, 9), "530 5.7.0");
}

TEST(session, recipients_of_an_abandoned_transaction_go_back_to_the_quota) {
  server_side srv(1);  // one recipient per 24 hours
  client c(srv.acceptor.local_endpoint().port());
  c.reply();
  c.login();
  EXPECT_EQ(c.cmd("MAIL FROM:<alice@example.com>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<bob@example.org>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<carol@example.org>"), "454 4.7.0 Throttling failure: Daily message quota exceeded.");
  EXPECT_EQ(c.cmd("RSET").substr(0, 3), "250");
  EXPECT_EQ(c.cmd("MAIL FROM:<alice@example.com>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<carol@example.org>"), "250 2.1.5 Ok") << "the reservation was given back at RSET";
  EXPECT_EQ(c.cmd("DATA").substr(0, 3), "354");
  EXPECT_EQ(c.cmd("From: alice@example.com\r\n\r\nx\r\n.").substr(0, 3), "250");
  EXPECT_EQ(c.cmd("MAIL FROM:<alice@example.com>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<dave@example.org>"), "454 4.7.0 Throttling failure: Daily message quota exceeded.")
      << "a queued message's recipients stay counted";
}

// The committer's wait made long: only a transaction's message (or its end)
// can end it, so a session that failed to announce its message, or to drop
// the announcement, would hold the other's reply for a minute.
constexpr submission::gathering committer_waits_long{2.0, std::chrono::seconds(60), std::chrono::seconds(60)};

// Polls until the queue holds n messages, for at most 10 s.
bool queue_reaches(store::stores& s, std::size_t n) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (s.queue->count() < n) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST(session, a_batch_waits_for_a_transaction_begun_and_not_for_one_ended) {
  server_side srv(std::nullopt, committer_waits_long);
  auto& batches = submission::commit_batch_metric();
  client a(srv.acceptor.local_endpoint().port());
  client b(srv.acceptor.local_endpoint().port());
  for (auto* c : {&a, &b}) {
    c->reply();
    c->login();
  }
  EXPECT_EQ(a.cmd("MAIL FROM:<alice@example.com>"), "250 2.1.0 Ok");  // a's message is on its way from here
  EXPECT_EQ(b.cmd("MAIL FROM:<alice@example.com>"), "250 2.1.0 Ok");
  b.cmd("RCPT TO:<bob@example.org>");
  EXPECT_EQ(b.cmd("DATA").substr(0, 3), "354");
  const auto batches_before = batches.count();
  b.send("From: alice@example.com\r\n\r\nfrom b\r\n.\r\n");
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(srv.s.queue->count(), 0u) << "b's message waits for a's, announced at MAIL";
  a.cmd("RCPT TO:<carol@example.org>");
  EXPECT_EQ(a.cmd("DATA").substr(0, 3), "354");
  EXPECT_EQ(a.cmd("From: alice@example.com\r\n\r\nfrom a\r\n.").substr(0, 3), "250");
  EXPECT_EQ(b.reply().substr(0, 3), "250");
  EXPECT_EQ(batches.count(), batches_before + 1) << "one batch, one sync for both";
  EXPECT_EQ(srv.s.queue->count(), 2u);

  // A transaction that ends without a message (RSET) stops counting at once.
  EXPECT_EQ(a.cmd("MAIL FROM:<alice@example.com>"), "250 2.1.0 Ok");
  b.cmd("MAIL FROM:<alice@example.com>");
  b.cmd("RCPT TO:<bob@example.org>");
  EXPECT_EQ(b.cmd("DATA").substr(0, 3), "354");
  b.send("From: alice@example.com\r\n\r\nagain\r\n.\r\n");
  EXPECT_EQ(a.cmd("RSET").substr(0, 3), "250");
  EXPECT_TRUE(queue_reaches(srv.s, 3)) << "b's message was held for a transaction that had ended";
  EXPECT_EQ(b.reply().substr(0, 3), "250");
}

TEST(session, a_client_gone_mid_transaction_holds_no_batch) {
  server_side srv(std::nullopt, committer_waits_long);
  client b(srv.acceptor.local_endpoint().port());
  b.reply();
  b.login();
  {
    client a(srv.acceptor.local_endpoint().port());
    a.reply();
    a.login();
    EXPECT_EQ(a.cmd("MAIL FROM:<alice@example.com>"), "250 2.1.0 Ok");
    b.cmd("MAIL FROM:<alice@example.com>");
    b.cmd("RCPT TO:<bob@example.org>");
    EXPECT_EQ(b.cmd("DATA").substr(0, 3), "354");
    b.send("From: alice@example.com\r\n\r\nx\r\n.\r\n");
  }  // a disconnects
  EXPECT_TRUE(queue_reaches(srv.s, 1)) << "b's message was held for a session that had gone";
  EXPECT_EQ(b.reply().substr(0, 3), "250");
}

TEST(session, a_message_refused_after_the_data_leaves_nothing_queued) {
  server_side srv;
  client c(srv.acceptor.local_endpoint().port());
  c.reply();
  c.login();
  c.cmd("MAIL FROM:<alice@example.com>");
  c.cmd("RCPT TO:<bob@example.org>");
  EXPECT_EQ(c.cmd("DATA").substr(0, 3), "354");
  auto r = c.cmd("Subject: x\r\n\r\nno From header\r\n.");
  EXPECT_EQ(r, "554 5.6.0 Message has no From: header field");
  EXPECT_EQ(srv.s.queue->count(), 0u);
  EXPECT_TRUE(srv.s.bodies->ids().empty()) << "the streamed body was removed";
}

TEST(session, scram_sha_256_and_plus_after_starttls) {
  server_side srv;
  for (const std::string mech : {"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}) {
    client c(srv.acceptor.local_endpoint().port());
    c.starttls_ehlo();
    const auto ehlo = c.cmd("EHLO client.test");
    EXPECT_NE(ehlo.find("AUTH PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS"), std::string::npos)
        << "TLS 1.3: both SCRAM mechanisms";
    sasl::testing::scram_client sc("alice", password, mech.ends_with("PLUS") ? c.exporter() : "");
    ASSERT_EQ(sc.first().substr(0, 2), mech.ends_with("PLUS") ? "p=" : "n,");
    EXPECT_EQ(c.scram(mech, sc).substr(0, 9), "235 2.7.0") << mech;
    EXPECT_EQ(c.cmd("MAIL FROM:<alice@example.com>").substr(0, 3), "250") << mech;
  }
}

TEST(session, scram_failures) {
  server_side srv;
  auto attempt = [&](const std::string& mech, const std::string& user, const std::string& pw, bool bind_wrong = false) {
    client c(srv.acceptor.local_endpoint().port());
    c.starttls_ehlo();
    c.cmd("EHLO client.test");
    sasl::testing::scram_client sc(user, pw, mech.ends_with("PLUS") ? (bind_wrong ? std::string(32, 'x') : c.exporter()) : "");
    auto r = c.scram(mech, sc);
    if (r.substr(0, 3) != "235") {
      EXPECT_EQ(c.cmd("MAIL FROM:<alice@example.com>").substr(0, 3), "530");
    }
    return r.substr(0, 9);
  };
  EXPECT_EQ(attempt("SCRAM-SHA-256", "alice", "wrong"), "535 5.7.8");
  EXPECT_EQ(attempt("SCRAM-SHA-256", "nobody", password), "535 5.7.8") << "an unknown user fails at the proof";
  EXPECT_EQ(attempt("SCRAM-SHA-256-PLUS", "alice", password, true), "535 5.7.8") << "another connection's binding";
  // The throttle (5 failures) counts SCRAM failures: 3 so far, then 2 more, then 421.
  EXPECT_EQ(attempt("SCRAM-SHA-256", "alice", "wrong"), "535 5.7.8");
  EXPECT_EQ(attempt("SCRAM-SHA-256", "alice", "wrong"), "535 5.7.8");
  client c(srv.acceptor.local_endpoint().port());
  EXPECT_EQ(c.reply().substr(0, 9), "421 4.7.0") << "throttled: no banner";
}

TEST(session, scram_exchange_cancelled_and_malformed) {
  server_side srv;
  client c(srv.acceptor.local_endpoint().port());
  c.starttls_ehlo();
  c.cmd("EHLO client.test");
  auto r = c.cmd("AUTH SCRAM-SHA-256");
  EXPECT_EQ(r, "334 ") << "no initial response: an empty challenge";
  EXPECT_EQ(c.cmd("*").substr(0, 9), "501 5.7.0");
  EXPECT_EQ(c.cmd("AUTH SCRAM-SHA-256 " + base::base64_encode("x,,n=alice,r=abc")).substr(0, 9), "501 5.5.2");
  sasl::testing::scram_client sc("alice", password);
  EXPECT_EQ(c.scram("SCRAM-SHA-256", sc).substr(0, 3), "235") << "the session goes on after both";
}
