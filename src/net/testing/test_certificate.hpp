#pragma once
// For tests only: a server TLS context with a self-signed ECDSA certificate
// for `hostname`, made once per process (the files are removed again).
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "net/tls.hpp"

namespace smtpsd::net::testing {

inline std::shared_ptr<server_tls> test_certificate(const std::string& hostname) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<server_tls>> made;
  std::lock_guard l(mu);
  auto& tls = made[hostname];
  if (!tls) {
    auto dir = std::filesystem::temp_directory_path() / ("smtpsd-test-cert-" + std::to_string(::getpid()) + "-" + hostname);
    std::filesystem::create_directories(dir);
    write_self_signed(hostname, dir / "cert.pem", dir / "key.pem");
    server_tls_options o;
    o.certificates.push_back({dir / "cert.pem", dir / "key.pem"});
    tls = server_tls::load(o);
    std::filesystem::remove_all(dir);
  }
  return tls;
}

}  // namespace smtpsd::net::testing
