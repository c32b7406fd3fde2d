#include "net/tls.hpp"

#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "net/ticket_keys.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "base/block_cache.hpp"
#include "base/strings.hpp"

namespace smtpsd::net {

namespace {

// TLS 1.2: ECDHE key exchange and AEAD ciphers only (forward secret).
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// TLS 1.3: AES-128-GCM first, as in TLS 1.2 (the server's order wins). Its
// key schedule runs on SHA-256, which current processors compute with
// instructions of their own (SHA-NI, ARMv8 SHA2) where SHA-384 has none: a
// full handshake costs about 10 % less CPU than with OpenSSL's default
// order, AES-256-GCM-SHA384 first (docs/development.md, Benchmarks).
constexpr const char* tls13_ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* groups = "X25519:P-256:P-384";

struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::vector<std::string> names_of(X509* cert) {
  std::vector<std::string> out;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      auto* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_DNS) {
        auto* s = gn->d.dNSName;
        out.push_back(base::to_lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                 static_cast<std::size_t>(ASN1_STRING_length(s)))));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (out.empty()) {
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
      out.push_back(base::to_lower(cn));
  }
  return out;
}

bool name_matches(const std::string& pattern, const std::string& host) {
  if (pattern == host) return true;
  if (pattern.rfind("*.", 0) == 0) {
    auto dot = host.find('.');
    return dot != std::string::npos && host.substr(dot) == pattern.substr(1);
  }
  return false;
}

// Session tickets under the process's rotating in-memory keys (RFC 5077 layout:
// key name, IV, AES-256-CBC, HMAC-SHA256, as OpenSSL's callback expects).
int ticket_callback(SSL*, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                    int encrypt) {
  auto& keys = ticket_keys::process();
  ticket_keys::key k;
  int result = 1;
  if (encrypt) {
    k = keys.current();
    std::copy(k.name.begin(), k.name.end(), name);
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1) return -1;
  } else {
    auto found = keys.find(name);
    if (!found) return 0;  // unknown or expired: a full handshake
    k = found->first;
    result = found->second ? 2 : 1;  // 2: accept, and issue a ticket under the current key
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1) return -1;
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac.data(), k.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  return result;
}

void apply_server_policy(SSL_CTX* ctx, const std::string& min_version) {
  SSL_CTX_set_min_proto_version(ctx, min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // No chain built per handshake: a certificate file without its chain would
  // have OpenSSL run X509_verify_cert against this context's store (which
  // holds nothing) for every handshake. The chain sent is the file's.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  // One recv per TLS record (or several) instead of two, header then body;
  // stream::wait_readable looks at what OpenSSL holds before the socket.
  SSL_CTX_set_read_ahead(ctx, 1);
  if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1) throw std::runtime_error("tls: cipher list: " + openssl_error());
  if (SSL_CTX_set_ciphersuites(ctx, tls13_ciphersuites) != 1)
    throw std::runtime_error("tls: TLS 1.3 cipher suites: " + openssl_error());
  if (SSL_CTX_set1_groups_list(ctx, groups) != 1) throw std::runtime_error("tls: groups: " + openssl_error());
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>("smtpsd"), 6);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_callback);
  // One TLS 1.3 ticket per handshake, not OpenSSL's two: a mail client
  // reconnects one connection after another, and each resumption brings it a
  // fresh ticket. Each ticket costs the server an encoding, an encryption and
  // a MAC that a client which never resumes pays for in vain.
  SSL_CTX_set_num_tickets(ctx, 1);
}

// The sizes of OpenSSL 3.0's read and write buffers (ssl3_buffer.c) fall in
// (odd_limit, block_size]: the block spares. Its other blocks above glibc's
// per-thread cache (a handshake allocates about ten, the SSL object among
// them) come from the other spares; the rest are ordinary allocations.
static_assert(base::block_cache::block_size >= 21848, "the handshake buffer, the largest");
static_assert(base::block_cache::odd_limit < 16 * 1024 + 1, "the write buffer, the smaller, is above it");

void* openssl_malloc(std::size_t n, const char*, int) { return base::block_cache::take(n); }
void* openssl_realloc(void* p, std::size_t n, const char*, int) {
  return p ? std::realloc(p, n) : base::block_cache::take(n);  // the handshake buffer starts that way
}
void openssl_free(void* p, const char*, int) { base::block_cache::give(p); }

}  // namespace

bool openssl_buffers_from_block_cache() {
  return CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) == 1;
}

std::string openssl_error() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

server_tls::~server_tls() = default;

std::shared_ptr<server_tls> server_tls::load(const server_tls_options& o) {
  if (o.certificates.empty()) throw std::runtime_error("tls: no certificate configured");
  auto t = std::shared_ptr<server_tls>(new server_tls());
  for (const auto& files : o.certificates) {
    ERR_clear_error();
    // Read the certificate to learn its names.
    std::unique_ptr<BIO, bio_deleter> bio(BIO_new_file(files.cert.c_str(), "r"));
    if (!bio) throw std::runtime_error(fmt::format("tls: cannot read {}: {}", files.cert.string(), openssl_error()));
    X509* leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (!leaf) throw std::runtime_error(fmt::format("tls: {} holds no PEM certificate: {}", files.cert.string(), openssl_error()));
    auto names = names_of(leaf);
    X509_free(leaf);

    group* g = nullptr;
    for (auto& existing : t->groups_)
      if (existing.names == names) g = &existing;
    if (!g) {
      t->groups_.push_back(group{names, std::make_unique<ssl::context>(ssl::context::tls_server)});
      g = &t->groups_.back();
      apply_server_policy(g->ctx->native_handle(), o.min_version);
    }
    SSL_CTX* ctx = g->ctx->native_handle();
    if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1)
      throw std::runtime_error(fmt::format("tls: cannot load certificate {}: {}", files.cert.string(), openssl_error()));
    if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error(fmt::format("tls: cannot load key {}: {}", files.key.string(), openssl_error()));
    if (SSL_CTX_check_private_key(ctx) != 1)
      throw std::runtime_error(fmt::format("tls: key {} does not match certificate {}", files.key.string(), files.cert.string()));
  }
  // SNI picks the group whose names match; the first group is the default.
  SSL_CTX* first = t->groups_.front().ctx->native_handle();
  SSL_CTX_set_tlsext_servername_callback(first, &server_tls::on_servername);
  SSL_CTX_set_tlsext_servername_arg(first, t.get());
  return t;
}

int server_tls::on_servername(SSL* s, int*, void* arg) {
  auto* self = static_cast<server_tls*>(arg);
  const char* name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  auto host = base::to_lower(name);
  for (auto& g : self->groups_)
    for (auto& n : g.names)
      if (name_matches(n, host)) {
        if (g.ctx->native_handle() != SSL_get_SSL_CTX(s)) SSL_set_SSL_CTX(s, g.ctx->native_handle());
        return SSL_TLSEXT_ERR_OK;
      }
  return SSL_TLSEXT_ERR_OK;  // unknown names get the default certificate
}

std::shared_ptr<ssl::context> make_client_context(const client_tls_options& o) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* c = ctx->native_handle();
  if (o.allow_legacy) {
    SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
    SSL_CTX_set_security_level(c, 0);
    SSL_CTX_set_cipher_list(c, "ALL:@SECLEVEL=0");
  } else {
    SSL_CTX_set_min_proto_version(c, o.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  }
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (o.dane) SSL_CTX_dane_enable(c);
  if (o.verify) {
    if (!o.ca_file.empty()) {
      ctx->load_verify_file(o.ca_file);
    } else {
      ctx->set_default_verify_paths();
      if (const char* f = std::getenv("SSL_CERT_FILE")) ctx->load_verify_file(f);
    }
    ctx->set_verify_mode(o.check_only ? ssl::verify_none : ssl::verify_peer);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

bool peer_verified(SSL* s, bool dane) { return s && verify_problem(s, dane).empty(); }

std::string verify_problem(SSL* s, bool dane) {
  if (!s) return "no TLS";
  if (!SSL_get0_peer_certificate(s)) return "no certificate";
  const long v = SSL_get_verify_result(s);
  if (v != X509_V_OK) return X509_verify_cert_error_string(v);
  // With TLSA records a match is what verifies, never a CA the context trusts.
  if (dane && SSL_get0_dane_authority(s, nullptr, nullptr) < 0) return "no usable TLSA record matched";
  return {};
}

tls_info describe(SSL* s) {
  tls_info i;
  i.version = SSL_get_version(s);
  if (auto* c = SSL_get_current_cipher(s)) {
    i.cipher = SSL_CIPHER_get_name(c);
    i.bits = SSL_CIPHER_get_bits(c, nullptr);
  }
  int nid = SSL_get_negotiated_group(s);
  if (nid != 0) {
    const char* n = SSL_group_to_name(s, nid);
    i.group = n ? n : OBJ_nid2sn(nid & ~TLSEXT_nid_unknown);
  }
  i.resumed = SSL_session_reused(s) == 1;
  return i;
}

std::string tls_exporter(SSL* s) {
  if (SSL_version(s) != TLS1_3_VERSION) return {};
  static constexpr char label[] = "EXPORTER-Channel-Binding";
  std::string out(32, '\0');
  if (SSL_export_keying_material(s, reinterpret_cast<unsigned char*>(out.data()), out.size(), label, sizeof label - 1,
                                 nullptr, 0, 0) != 1)
    return {};
  return out;
}

void write_self_signed(const std::string& hostname, const std::filesystem::path& cert_path,
                       const std::filesystem::path& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("tls: cannot generate a P-256 key: " + openssl_error());
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  std::string san = "DNS:" + hostname;
  if (hostname == "localhost") san += ",IP:127.0.0.1,IP:::1";
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, san.c_str()}, std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"},
                            std::pair{NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    if (!ext) throw std::runtime_error("tls: certificate extension: " + openssl_error());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (!X509_sign(x, key, EVP_sha256())) throw std::runtime_error("tls: cannot sign the certificate: " + openssl_error());

  int kfd = ::open(key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (kfd < 0) throw std::runtime_error(fmt::format("cannot create {}: {}", key_path.string(), std::strerror(errno)));
  FILE* kf = fdopen(kfd, "w");
  bool ok = PEM_write_PrivateKey(kf, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  ok &= std::fclose(kf) == 0;
  FILE* cf = std::fopen(cert_path.c_str(), "wx");
  if (!cf) throw std::runtime_error(fmt::format("cannot create {}: {}", cert_path.string(), std::strerror(errno)));
  ok &= PEM_write_X509(cf, x) == 1;
  ok &= std::fclose(cf) == 0;
  X509_free(x);
  EVP_PKEY_free(key);
  if (!ok) throw std::runtime_error("tls: cannot write the certificate or key: " + openssl_error());
}

}  // namespace smtpsd::net
