// SCRAM-SHA-256 against the example exchange of RFC 7677 §3, and a
// -PLUS exchange whose client side is computed here from the RFC 5802 §3
// formulas with OpenSSL directly.
#include <gtest/gtest.h>

#include "base/base64.hpp"
#include "sasl/scram.hpp"
#include "sasl/testing/scram_client.hpp"

using namespace smtpsd;
using sasl::scram_server;

namespace {

const std::string salt = *base::base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
const std::string server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const std::string combined_nonce = "rOprNGfwEbeRWgbNEkqO" + server_nonce;

sasl::scram_secrets pencil() { return sasl::make_scram_secrets("pencil", salt, 4096); }

// The client's proof for `password` over `auth_message` (RFC 5802 §3).
std::string client_proof(const std::string& password, const std::string& auth_message) {
  return sasl::testing::prove(password, salt, 4096, auth_message).proof;
}

}  // namespace

TEST(scram, the_rfc_7677_example_exchange) {
  scram_server s(false, "", false);
  ASSERT_TRUE(s.client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO").ok);
  EXPECT_EQ(s.username(), "user");
  EXPECT_EQ(s.server_first(pencil(), server_nonce), "r=" + combined_nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  auto r = s.client_final("c=biws,r=" + combined_nonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.message, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST(scram, a_wrong_password_fails_at_the_proof) {
  scram_server s(false, "", false);
  ASSERT_TRUE(s.client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO").ok);
  const auto first = s.server_first(pencil(), server_nonce);
  const std::string without_proof = "c=biws,r=" + combined_nonce;
  auto r = s.client_final(without_proof + ",p=" + client_proof("pen", "n=user,r=rOprNGfwEbeRWgbNEkqO," + first + "," + without_proof));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.message, "wrong password");
}

TEST(scram, plus_binds_the_tls_exporter_value) {
  const std::string exporter(32, '\x5a');
  const std::string gs2 = "p=tls-exporter,,";
  const std::string bare = "n=user,r=abcdefgh";
  const std::string cb = base::base64_encode(gs2 + exporter);
  for (bool right : {true, false}) {
    scram_server s(true, exporter, true);
    ASSERT_TRUE(s.client_first(gs2 + bare).ok);
    const auto first = s.server_first(pencil(), "XYZ");
    const std::string without_proof = "c=" + (right ? cb : base::base64_encode(gs2 + std::string(32, 'b'))) + ",r=abcdefghXYZ";
    auto r = s.client_final(without_proof + ",p=" + client_proof("pencil", bare + "," + first + "," + without_proof));
    EXPECT_EQ(r.ok, right) << r.message;
    if (!right) {
      EXPECT_EQ(r.message, "channel binding mismatch");
    }
  }
}

TEST(scram, refusals) {
  struct refusal {
    bool plus;
    std::string exporter;
    bool offered;
    std::string first;
    std::string why;
  };
  for (const auto& c : std::vector<refusal>{
           {false, "", true, "y,,n=user,r=abc", "channel binding downgrade refused"},
           {false, "", false, "p=tls-exporter,,n=user,r=abc", "channel binding requested without the -PLUS mechanism"},
           {true, "", true, "p=tls-exporter,,n=user,r=abc", "no tls-exporter channel binding on this connection"},
           {true, "x", true, "p=tls-unique,,n=user,r=abc", "SCRAM-SHA-256-PLUS needs channel binding tls-exporter"},
           {true, "x", true, "n,,n=user,r=abc", "SCRAM-SHA-256-PLUS needs channel binding tls-exporter"},
           {false, "", false, "n,,m=ext,n=user,r=abc", "mandatory extensions are not supported"},
           {false, "", false, "n,,n=us=2Xer,r=abc", "malformed username"},
           {false, "", false, "n,,n=user,r=a\x01b", "malformed nonce"},
           {false, "", false, "n,,n=user", "malformed nonce"},
           {false, "", false, "n,a=other,n=user,r=abc", "authorisation identity differs from the user"},
           {false, "", false, "x,,n=user,r=abc", "malformed channel binding flag"},
       }) {
    scram_server s(c.plus, c.exporter, c.offered);
    auto r = s.client_first(c.first);
    EXPECT_FALSE(r.ok) << c.first;
    EXPECT_EQ(r.message, c.why) << c.first;
  }
  scram_server named(false, "", false);
  ASSERT_TRUE(named.client_first("n,a=a=2Cb=3Dc,n=a=2Cb=3Dc,r=abc").ok);
  EXPECT_EQ(named.username(), "a,b=c");
}

TEST(scram, the_final_message_must_repeat_the_nonce_and_the_header) {
  scram_server s(false, "", false);
  ASSERT_TRUE(s.client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO").ok);
  s.server_first(pencil(), server_nonce);
  EXPECT_EQ(s.client_final("c=biws,r=rOprNGfwEbeRWgbNEkqO,p=AAAA").message, "nonce mismatch");
  scram_server t(false, "", false);
  ASSERT_TRUE(t.client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO").ok);
  t.server_first(pencil(), server_nonce);
  EXPECT_EQ(t.client_final("c=eSws,r=" + combined_nonce + ",p=AAAA").message, "channel binding mismatch");
  EXPECT_EQ(t.client_final("c=biws").message, "unexpected client-final-message") << "one try per exchange";
}

TEST(scram, stored_form_parses_back_and_refuses_anything_else) {
  const auto s = pencil();
  const auto text = sasl::format_scram_secrets(s);
  EXPECT_EQ(text.rfind("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$", 0), 0u) << text;
  auto back = sasl::parse_scram_secrets(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->salt, s.salt);
  EXPECT_EQ(back->iterations, 4096u);
  EXPECT_EQ(back->stored_key, s.stored_key);
  EXPECT_EQ(back->server_key, s.server_key);
  const auto keys = text.substr(text.rfind('$'));
  for (const std::string& bad : std::vector<std::string>{std::string{}, "SCRAM-SHA-1$4096:c2FsdA==" + keys, "SCRAM-SHA-256$4095:c2FsdA==" + keys,
                                "SCRAM-SHA-256$x:c2FsdA==" + keys, "SCRAM-SHA-256$4096:" + keys,
                                "SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA", "SCRAM-SHA-256$4096:c2FsdA==",
                                "SCRAM-SHA-256$99999999999:c2FsdA==" + keys})
    EXPECT_FALSE(sasl::parse_scram_secrets(bad)) << bad;
  EXPECT_TRUE(sasl::parse_scram_secrets("SCRAM-SHA-256$4096:c2FsdA==" + keys));
}
