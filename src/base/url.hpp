#pragma once
// http:// and https:// URLs (webhooks, MTA-STS policies), parsed by
// Boost.URL (RFC 3986), never by hand.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smtpsd::base {

struct http_url {
  bool https = false;
  std::string host;  // an IPv6 address without its brackets
  std::uint16_t port = 0;
  std::string target;  // path and query, at least "/"
  std::string origin() const;  // "https://host:port"
};

// nullopt unless an absolute http:// or https:// URL with a host, no user
// information and a port above 0.
std::optional<http_url> parse_http_url(std::string_view url);

}  // namespace smtpsd::base
