#pragma once
// HAProxy PROXY protocol v1 (text) and v2 (binary) headers: the client's
// real address when smtpsd runs behind a TCP load balancer. Pure parsing; the
// reading lives in proxy_read.
#include <cstdint>
#include <optional>
#include <string_view>

#include "base/ip.hpp"

namespace smtpsd::net {

struct proxy_header {
  std::optional<base::ip_address> source;  // absent for LOCAL / UNKNOWN
  std::uint16_t source_port = 0;
};

constexpr std::size_t proxy_v1_max = 107;
constexpr std::string_view proxy_v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};

// A whole v1 line including its CRLF.
std::optional<proxy_header> parse_proxy_v1(std::string_view line);
// A whole v2 header: 16 octets and the length they announce.
std::optional<proxy_header> parse_proxy_v2(std::string_view header);
// The length a v2 header announces (its first 16 octets given); 0 if invalid.
std::size_t proxy_v2_length(std::string_view first16);

}  // namespace smtpsd::net
