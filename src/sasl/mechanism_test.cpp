#include <gtest/gtest.h>

#include "base/base64.hpp"
#include "sasl/mechanism.hpp"

using namespace smtpsd::sasl;
using kind = step_result::kind;

namespace {
channel_binding bound(std::string value) { return {true, [value] { return value; }}; }
}  // namespace

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

TEST(sasl_scram, the_mechanism_asks_for_secrets_then_ends_with_an_empty_response) {
  // RFC 7677 §3 through the mechanism interface.
  const auto salt = *smtpsd::base::base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  const auto secrets = make_scram_secrets("pencil", salt, 4096);
  const std::string server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  auto m = make_mechanism("scram-sha-256");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->start(std::string_view{}).k, kind::challenge) << "no initial response: an empty challenge";
  auto r = m->step("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  ASSERT_EQ(r.k, kind::lookup);
  EXPECT_EQ(r.creds.username, "user");
  r = m->secrets(secrets, server_nonce);
  ASSERT_EQ(r.k, kind::challenge);
  EXPECT_EQ(r.challenge, "r=rOprNGfwEbeRWgbNEkqO" + server_nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  r = m->step("c=biws,r=rOprNGfwEbeRWgbNEkqO" + server_nonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_EQ(r.k, kind::challenge);
  EXPECT_EQ(r.challenge, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  r = m->step("");
  ASSERT_EQ(r.k, kind::done);
  EXPECT_EQ(r.creds.username, "user");
  ASSERT_TRUE(r.proof);
  EXPECT_TRUE(*r.proof);
  EXPECT_TRUE(r.creds.password.expose().empty());

  auto wrong = make_mechanism("SCRAM-SHA-256");
  ASSERT_EQ(wrong->start(std::string_view("n,,n=user,r=abc")).k, kind::lookup);
  ASSERT_EQ(wrong->secrets(secrets, "N").k, kind::challenge);
  r = wrong->step("c=biws,r=abcN,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_EQ(r.k, kind::done) << "a wrong proof is an authentication failure, not a protocol error";
  EXPECT_FALSE(*r.proof);
  EXPECT_EQ(r.reason, "wrong password");
}

TEST(sasl_scram, plus_only_with_an_exporter_value_and_advertised_with_it) {
  EXPECT_EQ(make_mechanism("SCRAM-SHA-256-PLUS"), nullptr);
  EXPECT_NE(make_mechanism("SCRAM-SHA-256-PLUS", bound(std::string(32, 'x'))), nullptr);
  EXPECT_EQ(make_mechanism("SCRAM-SHA-256-PLUS", bound("")), nullptr) << "no exporter value after all";
  EXPECT_EQ(advertised_mechanisms(), "PLAIN LOGIN SCRAM-SHA-256");
  EXPECT_EQ(advertised_mechanisms(bound(std::string(32, 'x'))), "PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS");
  auto m = make_mechanism("SCRAM-SHA-256", bound(std::string(32, 'x')));
  EXPECT_EQ(m->start(std::string_view("y,,n=user,r=abc")).k, kind::failed) << "the client could have bound: a downgrade";
  EXPECT_EQ(make_mechanism("PLAIN")->secrets({}, "N").k, kind::failed);
}
