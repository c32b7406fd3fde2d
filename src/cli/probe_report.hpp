#pragma once
// What listens on a mail port, found out with smtpsd's own SMTP client and
// TLS code: the mode (implicit TLS, STARTTLS, plain SMTP), the banner, TLS
// details and certificate chain, the EHLO extensions before and after TLS,
// and warnings (old TLS or ciphers without forward secrecy accepted, AUTH
// before TLS, a certificate about to expire or not valid for the host,
// plaintext pipelined before STARTTLS executed inside TLS, an open relay).
// Blocking: it runs its own io_context.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.hpp"

namespace smtpsd::cli {

struct certificate_info {
  std::string subject;
  std::string issuer;
  std::vector<std::string> names;  // DNS and IP subject alternative names
  std::string not_after;           // RFC 3339
  long days_left = 0;
  std::string key_type;  // "EC", "RSA", "ED25519"
  int key_bits = 0;
};

struct ehlo_info {
  std::vector<std::string> extensions;
  std::optional<std::uint64_t> size;
  std::vector<std::string> auth;
};

struct probe_report {
  std::string target;  // host:port
  std::string mode;    // implicit-tls, starttls, plain, closed, unknown
  std::string error;   // why the probe could not finish (with mode closed: could not connect)
  std::string banner;
  std::optional<ehlo_info> ehlo_before_tls;
  std::optional<ehlo_info> ehlo;  // after TLS when there is TLS
  // TLS
  std::string tls_version, cipher, group;
  std::optional<bool> resumption;
  std::vector<certificate_info> chain;
  std::optional<bool> valid_for_host;
  std::string verify_error;
  std::vector<std::string> warnings;
};

struct probe_options {
  std::string mode = "auto";  // auto, implicit-tls, starttls, plain
  std::chrono::seconds timeout{10};
  bool thorough = true;  // the extra connections: resumption, old TLS, weak ciphers, relay
};

probe_report probe(const base::host_port& target, const probe_options& o);

}  // namespace smtpsd::cli
