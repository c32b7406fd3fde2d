#pragma once
// SASL server mechanisms as pure state machines over decoded bytes (the SMTP
// layer does the base64). PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login),
// and SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 7677, scram.hpp).
//
// PLAIN and LOGIN end with a username and password for the caller to check.
// SCRAM checks the proof itself: its first step asks for the user's stored
// secrets (kind::lookup), its last ends with `proof` set.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/secret.hpp"
#include "sasl/scram.hpp"

namespace smtpsd::sasl {

struct credentials {
  std::string username;
  base::secret_string password;
};

struct step_result {
  // lookup: find creds.username's SCRAM secrets, then call secrets().
  enum class kind { challenge, lookup, done, failed } k = kind::failed;
  std::string challenge;  // raw bytes, for kind::challenge
  credentials creds;      // for kind::done (and the username for kind::lookup)
  // For kind::done of a mechanism that checks the password itself: whether
  // the proof held (creds.password is then empty).
  std::optional<bool> proof;
  std::string reason;     // for kind::failed and a failed proof; never contains the payload
};

class mechanism {
 public:
  virtual ~mechanism() = default;
  // The first step: initial response (may be empty string) or nullopt when
  // the client sent none.
  virtual step_result start(std::optional<std::string_view> initial) = 0;
  virtual step_result step(std::string_view response) = 0;
  // After kind::lookup: the user's secrets (made-up ones for an unknown user)
  // and a fresh server nonce part (printable ASCII without ',').
  virtual step_result secrets(const scram_secrets& s, std::string_view server_nonce);
};

// What the TLS connection offers for channel binding: on TLS 1.3, the
// tls-exporter value (RFC 9266), asked for only when a client picks -PLUS
// (it costs an HKDF per call, and most connections never need it).
struct channel_binding {
  bool offered = false;
  std::function<std::string()> tls_exporter;
};

// nullptr for unknown mechanism names (case-insensitive), and for
// SCRAM-SHA-256-PLUS when channel binding is not offered or yields nothing.
std::unique_ptr<mechanism> make_mechanism(std::string_view name, const channel_binding& cb = {});

// What EHLO advertises: "PLAIN LOGIN SCRAM-SHA-256", and SCRAM-SHA-256-PLUS
// when channel binding is offered.
std::string_view advertised_mechanisms(const channel_binding& cb = {});

// PLAIN message parsing, exposed for the fuzzer and tests.
std::optional<credentials> parse_plain(std::string_view message);

}  // namespace smtpsd::sasl
