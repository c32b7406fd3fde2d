#pragma once
// OpenSSL 3 contexts. Servers: TLS 1.2+ (or 1.3 only), TLS 1.2 limited to
// ECDHE with AEAD ciphers, no compression, no renegotiation, server cipher
// preference, released buffers when idle; several certificates chosen by SNI
// and by key type. Clients: verification against the system CAs or off.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "net/asio.hpp"

namespace smtpsd::net {

// From here on OpenSSL's record buffers (16.2-16.4 KiB, one per read and one
// per write under SSL_MODE_RELEASE_BUFFERS) come from and go back to the
// thread's spares (base/block_cache.hpp); its other allocations go to malloc
// as before. Call it first thing in main(): OpenSSL takes a new allocator only
// before its first allocation, and it returns false when that is too late
// (nothing changes then).
bool openssl_buffers_from_block_cache();

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
  // Load the CAs and check, but complete the handshake whatever the result:
  // the caller reads peer_verified() and decides (MTA-STS in testing mode
  // reports a failure and delivers; enforce closes before any mail is sent).
  bool check_only = false;
  bool dane = false;           // SSL_CTX_dane_enable: connections may carry TLSA records
};

// A TLSA record (RFC 6698) to authenticate a server with (RFC 7672: only
// DANE-TA(2) and DANE-EE(3) are usable for SMTP).
struct tlsa_record {
  std::uint8_t usage = 3;
  std::uint8_t selector = 1;
  std::uint8_t mtype = 1;
  std::string data;  // the certificate association data, binary
};
// What a client checks the server against, beyond the context's CAs:
// `name` (RFC 6125 with the context's CAs) or DANE records with their base
// domain and the names a DANE-TA chain may carry (DANE-EE ignores names).
struct peer_check {
  std::string name;
  std::vector<tlsa_record> tlsa;
  std::vector<std::string> dane_names;
  bool empty() const { return name.empty() && tlsa.empty(); }
};
// After a handshake: the chain (with `dane`, a TLSA match) and the names
// checked out; verify_problem says why not, in OpenSSL's words ("" when it did).
bool peer_verified(SSL* s, bool dane);
std::string verify_problem(SSL* s, bool dane);
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
