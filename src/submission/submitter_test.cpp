#include <gtest/gtest.h>

#include <future>

#include "smtp/address.hpp"
#include "smtp/replies.hpp"
#include "store/memory/memory_stores.hpp"
#include "submission/submitter.hpp"

using namespace smtpsd;

namespace {
struct submitter_fixture {
  store::stores s = store::memory::open();
  base::manual_clock clock;
  submission::group_committer committer{s.bodies, s.queue};
  submission::submitter sub{s, committer, {"mail.example.com", 4096, nullptr, {"marketing"}}, clock, base::real_random()};
  smtp::envelope env;
  submission::session_facts facts;
  submitter_fixture() {
    env.from = *smtp::parse_mailbox("alice@example.com");
    env.rcpts.push_back({*smtp::parse_mailbox("bob@example.org"), {}});
    facts.helo = "client";
    facts.client_ip = "127.0.0.1";
    facts.tls_version = "TLSv1.3";
    facts.tls_cipher = "TLS_AES_128_GCM_SHA256";
    facts.account = "acme";
    facts.account_id = 1;
  }
  // The reply a session sends for the commit's result.
  smtp::reply commit(std::unique_ptr<submission::message_builder> m) {
    const auto id = m->queue_id();
    std::promise<smtp::reply> p;
    sub.commit(std::move(m), [&](const submission::commit_result& failed) {
      p.set_value(failed ? failed->reply : smtp::replies::queued(id));
    });
    return p.get_future().get();
  }
};
}  // namespace

TEST(submitter, queues_with_fixups_and_streams_the_body) {
  submitter_fixture f;
  auto m = f.sub.begin(f.env, f.facts);
  auto id = m->queue_id();
  m->append("Subject: hi\r\nBcc: hidden@example.net\r\n");
  m->append("\r\nline 1\r\n");
  m->append("line 2\r\n");
  ASSERT_FALSE(m->seal());
  auto r = f.commit(std::move(m));
  EXPECT_EQ(r.wire(), "250 2.0.0 Ok: queued as " + id + "\r\n");
  auto q = f.s.queue->get(id);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->from, "alice@example.com");
  EXPECT_EQ(q->recipients.at(0).address, "bob@example.org");
  EXPECT_EQ(q->message_id, "<" + id + "@mail.example.com>");
  auto body = f.s.bodies->open(id)->read_all();
  EXPECT_EQ(body.find("Bcc"), std::string::npos);
  EXPECT_EQ(body.rfind("Received: from client ([127.0.0.1])", 0), 0u);
  EXPECT_NE(body.find("\r\n\r\nline 1\r\nline 2\r\n"), std::string::npos);
  EXPECT_EQ(q->size, body.size() - 2) << "size counts header section and body";
}

TEST(submitter, header_check_refuses_before_anything_is_queued) {
  submitter_fixture f;
  auto m = f.sub.begin(f.env, f.facts, [](const std::vector<message::header_field>& fields) {
    return message::find_field(fields, "X-Bad") ? std::optional<policy::rejection>(
                                                      policy::rejection{smtp::make_reply(550, "5.7.1", "no"), "test", ""})
                                                : std::nullopt;
  });
  auto id = m->queue_id();
  m->append("X-Bad: 1\r\n\r\nbody\r\n");
  auto r = m->seal();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule, "test");
  m.reset();
  EXPECT_FALSE(f.s.bodies->open(id));
  EXPECT_EQ(f.s.queue->count(), 0u);
}

TEST(submitter, malformed_headers_and_oversized_headers_are_refused) {
  submitter_fixture f;
  auto m = f.sub.begin(f.env, f.facts);
  auto id = m->queue_id();
  m->append("this is not a header\r\n\r\nbody\r\n");
  auto r = m->seal();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reply.code, 554);
  EXPECT_EQ(r->reply.enhanced, "5.6.0");
  m.reset();
  EXPECT_FALSE(f.s.bodies->open(id)) << "a refused message leaves nothing behind";
  auto big = f.sub.begin(f.env, f.facts);
  big->append("X-Long: " + std::string(5000, 'a') + "\r\n\r\n");
  auto r2 = big->seal();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->reply.wire(), "552 5.3.4 Message header size exceeds limit\r\n");
}

TEST(submitter, duplicate_key_is_account_message_id_and_content_as_submitted) {
  submitter_fixture f;
  auto key = [&](std::string_view head, std::string_view body, std::int64_t account = 1) {
    f.facts.account_id = account;
    auto m = f.sub.begin(f.env, f.facts);
    m->append(head);
    m->append("\r\n");
    m->append(body.substr(0, 3));  // in pieces, as it arrives
    m->append(body.substr(3));
    EXPECT_FALSE(m->seal());
    auto k = m->duplicate();
    m->abort();
    return k;
  };
  const std::string head = "From: alice@example.com\r\nMessage-ID: <m1@example.com>\r\n";
  const auto k = key(head, "same body\r\n");
  ASSERT_TRUE(k);
  EXPECT_EQ(key(head, "same body\r\n"), k) << "the same message, another time";
  EXPECT_NE(key(head, "other body\r\n"), k);
  EXPECT_NE(key(head + "Subject: x\r\n", "same body\r\n"), k);
  EXPECT_NE(key(head, "same body\r\n", 2), k) << "another account";
  EXPECT_NE(key("From: alice@example.com\r\nMessage-ID: <m2@example.com>\r\n", "same body\r\n"), k);
  EXPECT_FALSE(key("From: alice@example.com\r\n", "same body\r\n")) << "no Message-ID: never a duplicate";

  f.sub.remember(*k, "06H0BWCP3SB0ABTB");
  EXPECT_EQ(f.sub.first_submission(*k), "06H0BWCP3SB0ABTB");
  f.clock.advance(std::chrono::seconds(601));
  EXPECT_FALSE(f.sub.first_submission(*k)) << "only within the window (600 s)";
}
