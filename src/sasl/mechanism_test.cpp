#include <gtest/gtest.h>

#include "sasl/mechanism.hpp"

using namespace smtpsd::sasl;
using kind = step_result::kind;

TEST(sasl_plain, initial_response) {
  auto m = make_mechanism("plain");
  auto r = m->start(std::string_view("\0alice\0s3cret", 13));
  ASSERT_EQ(r.k, kind::done);
  EXPECT_EQ(r.creds.username, "alice");
  EXPECT_EQ(r.creds.password.expose(), "s3cret");
}

TEST(sasl_plain, challenge_then_response_and_authzid_rules) {
  auto m = make_mechanism("PLAIN");
  EXPECT_EQ(m->start(std::nullopt).k, kind::challenge);
  EXPECT_EQ(m->step(std::string_view("alice\0alice\0pw", 14)).k, kind::done);
  EXPECT_EQ(make_mechanism("PLAIN")->start(std::string_view("bob\0alice\0pw", 12)).k, kind::failed);
  EXPECT_EQ(make_mechanism("PLAIN")->start(std::string_view("\0alice", 6)).k, kind::failed);
  EXPECT_EQ(make_mechanism("PLAIN")->start(std::string_view("\0\0pw", 4)).k, kind::failed);
}

TEST(sasl_login, two_steps) {
  auto m = make_mechanism("LOGIN");
  auto c = m->start(std::nullopt);
  ASSERT_EQ(c.k, kind::challenge);
  EXPECT_EQ(c.challenge, "Username:");
  auto p = m->step("alice");
  ASSERT_EQ(p.k, kind::challenge);
  EXPECT_EQ(p.challenge, "Password:");
  auto d = m->step("pw");
  ASSERT_EQ(d.k, kind::done);
  EXPECT_EQ(d.creds.username, "alice");
}

TEST(sasl, unknown_mechanism) { EXPECT_EQ(make_mechanism("CRAM-MD5"), nullptr); }
