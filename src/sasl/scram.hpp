#pragma once
// SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, the server side (RFC 5802, RFC 7677;
// channel binding type tls-exporter, RFC 9266), as a pure state machine over
// decoded messages: the session does the base64, looks the user's secrets up
// between the first two steps, and supplies the nonce and the TLS exporter
// value. PBKDF2, HMAC and SHA-256 are OpenSSL's. `mechanism.cpp` adapts it to
// the SMTP server's mechanism interface.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smtpsd::sasl {

using scram_key = std::array<std::uint8_t, 32>;

// What a credential stores for SCRAM instead of the password (RFC 5802 §3):
// StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey =
// HMAC(SaltedPassword, "Server Key"), SaltedPassword = PBKDF2(password, salt, i).
struct scram_secrets {
  std::string salt;  // raw bytes
  std::uint32_t iterations = 0;
  scram_key stored_key{};
  scram_key server_key{};
};

// RFC 7677 §4 asks for at least 4096 iterations.
constexpr std::uint32_t scram_min_iterations = 4096;

// The stored form, as RFC 5803 writes it for LDAP (and PostgreSQL keeps it):
// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", base64 parts.
std::string format_scram_secrets(const scram_secrets& s);
// nullopt for anything else (an empty string: a credential made before SCRAM).
std::optional<scram_secrets> parse_scram_secrets(std::string_view text);

// The password as SASLprep would give it must already be what is passed:
// smtpsd takes passwords as UTF-8 and applies no further normalisation.
scram_secrets make_scram_secrets(std::string_view password, std::string_view salt, std::uint32_t iterations);

// The server's side of one exchange.
class scram_server {
 public:
  // plus: SCRAM-SHA-256-PLUS was chosen. tls_exporter: the 32-byte
  // "EXPORTER-Channel-Binding" value of this TLS connection, empty without
  // TLS 1.3 (RFC 9266); a client that says it could bind ("y") while the
  // server offers PLUS is refused as a downgrade (RFC 5802 §6).
  scram_server(bool plus, std::string tls_exporter, bool plus_offered);

  struct result {
    bool ok = false;
    std::string message;  // the next server message when ok, else why it failed (no secrets in it)
  };

  // client-first-message. ok: `username()` is the user to look up.
  result client_first(std::string_view msg);
  const std::string& username() const { return user_; }
  // server-first-message for the user's secrets and a fresh nonce part
  // (printable ASCII without ','); for an unknown user, pass made-up secrets
  // so the exchange fails only at the proof, like a wrong password.
  std::string server_first(const scram_secrets& s, std::string_view server_nonce);
  // client-final-message: ok means the proof held; message is server-final.
  result client_final(std::string_view msg);

 private:
  bool plus_;
  std::string exporter_;
  bool plus_offered_;
  std::string gs2_header_;
  std::string user_;
  std::string client_first_bare_;
  std::string nonce_;
  std::string server_first_;
  std::optional<scram_secrets> secrets_;
  enum class state { start, first_seen, challenged, done } st_ = state::start;
};

}  // namespace smtpsd::sasl
