#pragma once
// DKIM signatures (RFC 6376) with rsa-sha256 and ed25519-sha256 (RFC 8463),
// relaxed/relaxed, over From (over-signed), To, Cc, Subject, Date,
// Message-ID, MIME-Version, Content-Type and Reply-To.
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dkim/canon.hpp"

namespace smtpsd::dkim {

enum class algorithm { ed25519, rsa };
std::string_view to_string(algorithm a);  // "ed25519" / "rsa"

using pkey = std::shared_ptr<EVP_PKEY>;

struct signing_key {
  std::string domain;
  std::string selector;
  algorithm alg = algorithm::ed25519;
  pkey key;
};

// New keys: Ed25519, or RSA-2048.
pkey generate(algorithm a);
std::string private_pem(const pkey& k);
// Throws std::runtime_error naming `source` when the PEM is not a key of type `a`.
pkey load_private(std::string_view pem, algorithm a, const std::string& source);
// The p= value of the DNS record: raw Ed25519 key, or the RSA SubjectPublicKeyInfo, in base64.
std::string public_record_value(const pkey& k);
// "v=DKIM1; k=ed25519; p=…"
std::string dns_record(algorithm a, const pkey& k);
// The record as DNS zone text: quoted strings of at most 255 octets.
std::string quoted_strings(std::string_view record);

// SHA-256 fed in pieces: the body hash below, and the duplicate guard's
// digest of what a client submits (submission). OpenSSL uses the CPU's SHA
// instructions; its implementation is fetched once, not by name at every use.
class sha256_stream {
 public:
  using digest = std::array<unsigned char, 32>;
  sha256_stream();  // throws std::runtime_error when OpenSSL cannot start one
  ~sha256_stream();
  sha256_stream(const sha256_stream&) = delete;
  sha256_stream& operator=(const sha256_stream&) = delete;
  void update(std::string_view data);
  digest finish();  // and starts again, empty

 private:
  EVP_MD_CTX* ctx_;
};

// SHA-256 of the relaxed body, fed as the body arrives.
class body_hash {
 public:
  body_hash();
  void update(std::string_view content) { canon_.update(content); }
  std::string finish_base64();  // once

 private:
  sha256_stream digest_;
  relaxed_body canon_;
};

// The raw signature of canonicalised data (the b= value before base64).
std::string signature_of(const signing_key& k, std::string_view data);

// DKIM-Signature fields (each ending in CRLF) to put above `section`, one per
// key, in the order given. `section` is the final header section.
std::string sign(const std::vector<signing_key>& keys, std::string_view section, const std::string& bh,
                 std::int64_t unix_time);

}  // namespace smtpsd::dkim
