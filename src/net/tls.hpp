#pragma once
// OpenSSL 3 contexts. Servers: TLS 1.2+ (or 1.3 only), TLS 1.2 limited to
// ECDHE with AEAD ciphers, no compression, no renegotiation, server cipher
// preference, released buffers when idle; several certificates chosen by SNI
// and by key type. Clients: verification against the system CAs or off.
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "net/asio.hpp"

namespace smtpsd::net {

struct certificate_files {
  std::filesystem::path cert;
  std::filesystem::path key;
};

struct server_tls_options {
  std::vector<certificate_files> certificates;
  std::string min_version = "1.2";
};

class server_tls {
 public:
  // Throws std::runtime_error naming the file that failed.
  static std::shared_ptr<server_tls> load(const server_tls_options& o);
  ssl::context& context() { return *groups_.front().ctx; }
  ~server_tls();

 private:
  struct group {
    std::vector<std::string> names;  // DNS names (lower case, may start with "*.")
    std::unique_ptr<ssl::context> ctx;
  };
  static int on_servername(SSL* s, int* alert, void* arg);
  std::vector<group> groups_;
};

// The context to use for new connections; replaced on reload while open
// sessions keep the one they started with.
class server_tls_holder {
 public:
  explicit server_tls_holder(std::shared_ptr<server_tls> t) : t_(std::move(t)) {}
  std::shared_ptr<server_tls> get() const {
    std::lock_guard l(mu_);
    return t_;
  }
  void set(std::shared_ptr<server_tls> t) {
    std::lock_guard l(mu_);
    t_ = std::move(t);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<server_tls> t_;
};

struct client_tls_options {
  bool verify = true;          // against the system CAs (SSL_CERT_FILE honoured)
  std::string min_version = "1.2";
  bool allow_legacy = false;   // let TLS 1.0/1.1 and any cipher through (probe only)
  std::string ca_file;         // trust these CAs instead of the system's
};
std::shared_ptr<ssl::context> make_client_context(const client_tls_options& o);

struct tls_info {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
  int bits = 0;
  std::string group;    // key exchange group, e.g. "X25519"
  bool resumed = false;
};
tls_info describe(SSL* s);

// The tls-exporter channel binding (RFC 9266): 32 bytes exported with the
// label "EXPORTER-Channel-Binding" and no context. Empty below TLS 1.3, where
// that value does not bind the session (RFC 9266 §3, the triple handshake).
std::string tls_exporter(SSL* s);

// A self-signed ECDSA P-256 certificate for hostname (plus 127.0.0.1 and ::1
// for localhost), valid for ten years; the key file is written 0600.
void write_self_signed(const std::string& hostname, const std::filesystem::path& cert,
                       const std::filesystem::path& key);

std::string openssl_error();

}  // namespace smtpsd::net
