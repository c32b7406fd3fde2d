#include "dkim/signer.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <stdexcept>

#include "base/base64.hpp"
#include "base/strings.hpp"
#include "message/headers.hpp"

namespace smtpsd::dkim {

namespace {

std::string ssl_error() {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  return buf;
}

constexpr std::array<std::string_view, 9> signed_names{"from",         "to",          "cc",           "subject",  "date",
                                                        "message-id", "mime-version", "content-type", "reply-to"};

std::string sha256(std::string_view data) {
  std::string out(32, '\0');
  unsigned n = 0;
  EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &n, EVP_sha256(), nullptr);
  return out;
}

}  // namespace

std::string signature_of(const signing_key& k, std::string_view data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string sig;
  bool ok = false;
  if (k.alg == algorithm::ed25519) {
    // RFC 8463: the Ed25519 signature is over the SHA-256 of the data.
    const auto digest = sha256(data);
    std::size_t len = 64;
    sig.resize(len);
    ok = EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, k.key.get()) == 1 &&
         EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(digest.data()), digest.size()) == 1;
    sig.resize(len);
  } else {
    std::size_t len = 0;
    ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, k.key.get()) == 1 &&
         EVP_DigestSignUpdate(ctx, data.data(), data.size()) == 1 && EVP_DigestSignFinal(ctx, nullptr, &len) == 1;
    if (ok) {
      sig.resize(len);
      ok = EVP_DigestSignFinal(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len) == 1;
      sig.resize(len);
    }
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("DKIM signing failed: " + ssl_error());
  return sig;
}

std::string_view to_string(algorithm a) { return a == algorithm::ed25519 ? "ed25519" : "rsa"; }

pkey generate(algorithm a) {
  EVP_PKEY* k = a == algorithm::ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                        : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
  if (!k) throw std::runtime_error("key generation failed: " + ssl_error());
  return pkey(k, EVP_PKEY_free);
}

std::string private_pem(const pkey& k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  std::string out(p, static_cast<std::size_t>(n));
  BIO_free(b);
  return out;
}

pkey load_private(std::string_view pem, algorithm a, const std::string& source) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  if (!k) throw std::runtime_error(source + ": not a PEM private key");
  pkey out(k, EVP_PKEY_free);
  const bool right = a == algorithm::ed25519 ? EVP_PKEY_is_a(k, "ED25519") : EVP_PKEY_is_a(k, "RSA");
  if (!right) throw std::runtime_error(source + ": not an " + std::string(a == algorithm::ed25519 ? "Ed25519" : "RSA") + " key");
  return out;
}

std::string public_record_value(const pkey& k) {
  if (EVP_PKEY_is_a(k.get(), "ED25519")) {
    std::string raw(32, '\0');
    std::size_t len = raw.size();
    EVP_PKEY_get_raw_public_key(k.get(), reinterpret_cast<unsigned char*>(raw.data()), &len);
    raw.resize(len);
    return base::base64_encode(raw);
  }
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(k.get(), &der);
  std::string out = base::base64_encode(std::string_view(reinterpret_cast<char*>(der), static_cast<std::size_t>(n)));
  OPENSSL_free(der);
  return out;
}

std::string dns_record(algorithm a, const pkey& k) {
  return std::string("v=DKIM1; k=") + std::string(to_string(a)) + "; p=" + public_record_value(k);
}

std::string quoted_strings(std::string_view record) {
  std::string out;
  for (std::size_t i = 0; i < record.size(); i += 255) {
    if (!out.empty()) out += ' ';
    out += '"';
    out += record.substr(i, 255);
    out += '"';
  }
  return out;
}

namespace {
const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
}  // namespace

sha256_stream::sha256_stream() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || !sha256_md() || EVP_DigestInit_ex(ctx_, sha256_md(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw std::runtime_error("cannot start a SHA-256 digest: " + ssl_error());
  }
}

sha256_stream::~sha256_stream() { EVP_MD_CTX_free(ctx_); }

void sha256_stream::update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }

sha256_stream::digest sha256_stream::finish() {
  digest out{};
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx_, out.data(), &n);
  EVP_DigestInit_ex(ctx_, sha256_md(), nullptr);
  return out;
}

body_hash::body_hash() : canon_([this](std::string_view s) { digest_.update(s); }) {}

std::string body_hash::finish_base64() {
  canon_.finish();
  const auto d = digest_.finish();
  return base::base64_encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string sign(const std::vector<signing_key>& keys, std::string_view section, const std::string& bh,
                 std::int64_t unix_time) {
  auto fields = message::parse_header_section(section);
  if (!fields) throw std::runtime_error("unparseable header section");

  // h=: each present field as often as it occurs, From once more (over-signed).
  std::string h;
  std::string data;
  for (auto name : signed_names) {
    std::vector<const message::header_field*> found;
    for (auto& f : *fields)
      if (base::iequals(base::trim(f.name), name)) found.push_back(&f);
    std::size_t times = found.size() + (name == "from" ? 1 : 0);
    for (std::size_t i = 0; i < times; ++i) {
      if (!h.empty()) h += ':';
      h += name;
      if (i < found.size()) {
        const auto* f = found[found.size() - 1 - i];  // bottom-up (RFC 6376 §5.4.2)
        data += relaxed_header(f->name, f->value);
      }
    }
  }

  std::string out;
  for (const auto& k : keys) {
    const std::string a = k.alg == algorithm::ed25519 ? "ed25519-sha256" : "rsa-sha256";
    std::string tags = "v=1; a=" + a + "; c=relaxed/relaxed; d=" + k.domain + "; s=" + k.selector +
                       "; t=" + std::to_string(unix_time) + "; h=" + h + "; bh=" + bh + "; b=";
    // Fold at "; " so no line is too long; the b= value goes on lines of its own.
    std::string folded;
    std::size_t col = 16;  // "DKIM-Signature: "
    for (auto part : base::split(tags, ' ')) {
      if (!folded.empty()) {
        if (col + 1 + part.size() > 76) {
          folded += "\r\n\t";
          col = 1;
        } else {
          folded += ' ';
          ++col;
        }
      }
      folded += part;
      col += part.size();
    }
    std::string signed_data = data + relaxed_header("DKIM-Signature", folded);
    signed_data.resize(signed_data.size() - 2);  // without its CRLF (RFC 6376 §3.7)
    const auto b = base::base64_encode(signature_of(k, signed_data));
    std::string value = folded;
    for (std::size_t i = 0; i < b.size(); i += 64) {
      value += "\r\n\t";
      value += b.substr(i, 64);
    }
    out += "DKIM-Signature: " + value + "\r\n";
  }
  return out;
}

}  // namespace smtpsd::dkim
