#include "net/proxy_protocol.hpp"

#include "base/strings.hpp"

namespace smtpsd::net {

std::optional<proxy_header> parse_proxy_v1(std::string_view line) {
  if (line.size() > proxy_v1_max || line.size() < 8 || line.substr(line.size() - 2) != "\r\n") return std::nullopt;
  line.remove_suffix(2);
  auto parts = base::split(line, ' ');
  if (parts.size() < 2 || parts[0] != "PROXY") return std::nullopt;
  proxy_header h;
  if (parts[1] == "UNKNOWN") return h;
  if (parts.size() != 6 || (parts[1] != "TCP4" && parts[1] != "TCP6")) return std::nullopt;
  auto src = base::ip_address::parse(parts[2]);
  auto dst = base::ip_address::parse(parts[3]);
  unsigned long long sport, dport;
  if (!src || !dst || src->is_v4() != (parts[1] == "TCP4") || !base::parse_u64(parts[4], sport) ||
      !base::parse_u64(parts[5], dport) || sport > 65535 || dport > 65535)
    return std::nullopt;
  h.source = *src;
  h.source_port = static_cast<std::uint16_t>(sport);
  return h;
}

std::size_t proxy_v2_length(std::string_view first16) {
  if (first16.size() < 16 || first16.substr(0, 12) != proxy_v2_signature) return 0;
  if ((static_cast<unsigned char>(first16[12]) & 0xF0) != 0x20) return 0;  // version 2
  auto len = static_cast<std::size_t>((static_cast<unsigned char>(first16[14]) << 8) | static_cast<unsigned char>(first16[15]));
  return 16 + len;
}

std::optional<proxy_header> parse_proxy_v2(std::string_view header) {
  auto total = proxy_v2_length(header);
  if (total == 0 || header.size() != total) return std::nullopt;
  const auto cmd = static_cast<unsigned char>(header[12]) & 0x0F;
  const auto fam = static_cast<unsigned char>(header[13]);
  proxy_header h;
  if (cmd == 0x0) return h;  // LOCAL: the balancer's own health check
  if (cmd != 0x1) return std::nullopt;
  auto body = header.substr(16);
  auto u8 = [&](std::size_t i) { return static_cast<std::uint8_t>(body[i]); };
  if (fam == 0x11) {  // TCP over IPv4
    if (body.size() < 12) return std::nullopt;
    h.source = base::ip_address::from_v4({u8(0), u8(1), u8(2), u8(3)});
    h.source_port = static_cast<std::uint16_t>((u8(8) << 8) | u8(9));
  } else if (fam == 0x21) {  // TCP over IPv6
    if (body.size() < 36) return std::nullopt;
    base::ip_address a;
    for (std::size_t i = 0; i < 16; ++i) a.bytes[i] = u8(i);
    h.source = a;
    h.source_port = static_cast<std::uint16_t>((u8(32) << 8) | u8(33));
  } else if (fam != 0x00) {
    return std::nullopt;  // UNIX sockets and UDP make no sense for SMTP
  }
  return h;
}

}  // namespace smtpsd::net
