#pragma once
// SASL server mechanisms as pure state machines over decoded bytes (the SMTP
// layer does the base64). PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login).
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/secret.hpp"

namespace smtpsd::sasl {

struct credentials {
  std::string username;
  base::secret_string password;
};

struct step_result {
  enum class kind { challenge, done, failed } k = kind::failed;
  std::string challenge;  // raw bytes, for kind::challenge
  credentials creds;      // for kind::done
  std::string reason;     // for kind::failed; never contains the payload
};

class mechanism {
 public:
  virtual ~mechanism() = default;
  // The first step: initial response (may be empty string) or nullopt when
  // the client sent none.
  virtual step_result start(std::optional<std::string_view> initial) = 0;
  virtual step_result step(std::string_view response) = 0;
};

// nullptr for unknown mechanism names (case-insensitive).
std::unique_ptr<mechanism> make_mechanism(std::string_view name);

// "PLAIN LOGIN": what EHLO advertises.
std::string_view advertised_mechanisms();

// PLAIN message parsing, exposed for the fuzzer and tests.
std::optional<credentials> parse_plain(std::string_view message);

}  // namespace smtpsd::sasl
