#include <gtest/gtest.h>

#include <random>

#include "base/base64.hpp"
#include "dkim/canon.hpp"
#include "dkim/signer.hpp"
#include "message/headers.hpp"

using namespace smtpsd;

namespace {

std::string relaxed_body_of(std::string_view body) {
  std::string out;
  dkim::relaxed_body b([&](std::string_view s) { out += s; });
  b.update(body);
  b.finish();
  return out;
}

// RFC 8463 Appendix A.
const char* rfc8463_headers =
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n";
const char* rfc8463_body = "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n\r\n";

dkim::pkey rfc8463_key() {
  auto seed = *base::base64_decode("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=");
  return dkim::pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                 reinterpret_cast<const unsigned char*>(seed.data()), seed.size()),
                    EVP_PKEY_free);
}

}  // namespace

TEST(dkim, rfc6376_relaxed_examples) {
  // RFC 6376 §3.4.5
  EXPECT_EQ(dkim::relaxed_header("A", " X"), "a:X\r\n");
  EXPECT_EQ(dkim::relaxed_header("B ", " Y\t\r\n\tZ  "), "b:Y Z\r\n");
  EXPECT_EQ(relaxed_body_of(" C \r\nD \t E\r\n\r\n\r\n"), " C\r\nD E\r\n");
}

TEST(dkim, relaxed_body_edges) {
  EXPECT_EQ(relaxed_body_of(""), "") << "an empty body stays empty";
  EXPECT_EQ(relaxed_body_of("\r\n\r\n"), "");
  EXPECT_EQ(relaxed_body_of("no newline"), "no newline\r\n");
  EXPECT_EQ(relaxed_body_of("a\r\n \t \r\nb\r\n"), "a\r\n\r\nb\r\n") << "a line of spaces is an empty line";
  // Chunk boundaries anywhere give the same result.
  const std::string body = "x  y \r\n\r\n z\t\r\n\r\n";
  const auto whole = relaxed_body_of(body);
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    std::string out;
    dkim::relaxed_body b([&](std::string_view s) { out += s; });
    b.update(body.substr(0, cut));
    b.update(body.substr(cut));
    b.finish();
    EXPECT_EQ(out, whole) << "cut at " << cut;
  }
}

// RFC 6376 3.4.4 read literally, a line at a time: what the span-at-a-time
// canonicalizer must give for any input and any chunking.
std::string relaxed_body_reference(std::string_view body) {
  std::vector<std::string> lines;
  std::string line;
  bool ended = true;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n' || (body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n')) {
      if (body[i] == '\r') ++i;
      lines.push_back(line);
      line.clear();
      ended = true;
    } else {
      line += body[i];
      ended = false;
    }
  }
  if (!ended) lines.push_back(line);
  std::string out;
  std::size_t blank = 0;
  for (const auto& l : lines) {
    std::string r;
    bool w = false;
    for (char c : l) {
      if (c == ' ' || c == '\t') {
        w = true;
        continue;
      }
      if (w) r += ' ';
      w = false;
      r += c;
    }
    if (r.empty()) {
      ++blank;
      continue;
    }
    for (; blank > 0; --blank) out += "\r\n";
    out += r + "\r\n";
  }
  return out;
}

TEST(dkim, relaxed_body_matches_the_rfc_for_random_text_and_chunks) {
  std::mt19937 rng(6376);
  const std::string alphabet = "ab  \t\r\n\r\n";
  for (int round = 0; round < 3000; ++round) {
    std::string body;
    const int n = static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) {
      if (rng() % 4 == 0) body += "Clean text line.\r\n";
      else body += alphabet[rng() % alphabet.size()];
    }
    std::string out;
    dkim::relaxed_body b([&](std::string_view s) { out += s; });
    for (std::size_t at = 0; at < body.size();) {
      const auto len = std::min<std::size_t>(body.size() - at, 1 + rng() % 40);
      b.update(std::string_view(body).substr(at, len));
      at += len;
    }
    b.finish();
    ASSERT_EQ(out, relaxed_body_reference(body)) << ::testing::PrintToString(body);
  }
}

TEST(dkim, rfc8463_body_hash) {
  dkim::body_hash h;
  h.update(rfc8463_body);
  EXPECT_EQ(h.finish_base64(), "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
}

TEST(dkim, rfc8463_ed25519_signature_reproduced) {
  auto key = rfc8463_key();
  ASSERT_TRUE(key);
  EXPECT_EQ(dkim::public_record_value(key), "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  // The signed data: h=from:to:subject:date:message-id, then from, subject and
  // date over-signed (no second instance: nothing), then the signature field
  // with an empty b=, without its final CRLF.
  auto fields = *message::parse_header_section(rfc8463_headers);
  std::string data;
  for (auto& f : fields) data += dkim::relaxed_header(f.name, f.value);
  const std::string sig_value =
      " v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n d=football.example.com; i=@football.example.com;\r\n"
      " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
      " subject : date : message-id : from : subject : date;\r\n"
      " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n b=";
  data += dkim::relaxed_header("DKIM-Signature", sig_value);
  data.resize(data.size() - 2);
  EXPECT_EQ(data,
            "from:Joe SixPack <joe@football.example.com>\r\n"
            "to:Suzie Q <suzie@shopping.example.net>\r\n"
            "subject:Is dinner ready?\r\n"
            "date:Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
            "message-id:<20030712040037.46341.5F8J@football.example.com>\r\n"
            "dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; d=football.example.com; "
            "i=@football.example.com; q=dns/txt; s=brisbane; t=1528637909; h=from : to : subject : date : "
            "message-id : from : subject : date; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=");
  dkim::signing_key k{"football.example.com", "brisbane", dkim::algorithm::ed25519, key};
  EXPECT_EQ(base::base64_encode(dkim::signature_of(k, data)),
            "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==");
}

TEST(dkim, signature_fields_are_folded_and_ed25519_first) {
  auto ed = dkim::generate(dkim::algorithm::ed25519);
  auto rsa = dkim::generate(dkim::algorithm::rsa);
  std::vector<dkim::signing_key> keys{{"example.com", "s1e", dkim::algorithm::ed25519, ed},
                                      {"example.com", "s1r", dkim::algorithm::rsa, rsa}};
  auto out = dkim::sign(keys, rfc8463_headers, "bh=", 1800000000);
  ASSERT_EQ(out.find("DKIM-Signature: v=1; a=ed25519-sha256;"), 0u);
  EXPECT_NE(out.find("DKIM-Signature: v=1; a=rsa-sha256;"), std::string::npos);
  EXPECT_NE(out.find("h=from:from:to:subject:date:message-id;"), std::string::npos) << out;
  std::size_t start = 0;
  for (auto nl = out.find("\r\n"); nl != std::string::npos; nl = out.find("\r\n", start)) {
    EXPECT_LE(nl - start, 78u) << out.substr(start, nl - start);
    start = nl + 2;
  }
  EXPECT_TRUE(message::parse_header_section(out));
}

TEST(dkim, keys_of_the_wrong_type_are_refused) {
  auto pem = dkim::private_pem(dkim::generate(dkim::algorithm::rsa));
  EXPECT_THROW(dkim::load_private(pem, dkim::algorithm::ed25519, "k.pem"), std::runtime_error);
  EXPECT_NO_THROW(dkim::load_private(pem, dkim::algorithm::rsa, "k.pem"));
  EXPECT_THROW(dkim::load_private("junk", dkim::algorithm::rsa, "k.pem"), std::runtime_error);
}

TEST(dkim, long_records_are_split_for_dns) {
  auto rec = dkim::dns_record(dkim::algorithm::rsa, dkim::generate(dkim::algorithm::rsa));
  ASSERT_GT(rec.size(), 255u);
  auto q = dkim::quoted_strings(rec);
  EXPECT_EQ(q.substr(0, 256), "\"" + rec.substr(0, 255));
  EXPECT_EQ(q.substr(256, 3), "\" \"");
}

TEST(sha256_stream, pieces_make_the_digest_of_the_whole_and_finish_starts_again) {
  dkim::sha256_stream s;
  s.update("a");
  s.update("");
  s.update("bc");
  const auto first = s.finish();
  // FIPS 180-2, appendix B.1: SHA-256("abc").
  EXPECT_EQ(base::base64_encode(std::string_view(reinterpret_cast<const char*>(first.data()), first.size())),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  s.update("abc");
  EXPECT_EQ(s.finish(), first);
}
