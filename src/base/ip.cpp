#include "base/ip.hpp"

#include <arpa/inet.h>

#include "base/strings.hpp"

namespace smtpsd::base {

namespace {
constexpr std::array<std::uint8_t, 12> v4_prefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}

bool ip_address::is_v4() const {
  for (std::size_t i = 0; i < 12; ++i)
    if (bytes[i] != v4_prefix[i]) return false;
  return true;
}

ip_address ip_address::from_v4(const std::array<std::uint8_t, 4>& b) {
  ip_address a;
  for (std::size_t i = 0; i < 12; ++i) a.bytes[i] = v4_prefix[i];
  for (std::size_t i = 0; i < 4; ++i) a.bytes[12 + i] = b[i];
  return a;
}

std::optional<ip_address> ip_address::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string s(text);
  std::array<std::uint8_t, 4> v4{};
  if (inet_pton(AF_INET, s.c_str(), v4.data()) == 1) return from_v4(v4);
  ip_address a;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

std::string ip_address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4())
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<cidr> cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = ip_address::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const int max = addr->is_v4() ? 32 : 128;
  int bits = max;
  if (slash != std::string_view::npos) {
    unsigned long long v;
    if (!parse_u64(text.substr(slash + 1), v) || v > static_cast<unsigned long long>(max))
      return std::nullopt;
    bits = static_cast<int>(v);
  }
  cidr c;
  c.prefix = addr->is_v4() ? 96 + bits : bits;
  c.network = *addr;
  // Clear host bits so contains() compares whole bytes.
  for (int i = c.prefix; i < 128; ++i) c.network.bytes[static_cast<std::size_t>(i / 8)] &= static_cast<std::uint8_t>(~(0x80u >> (i % 8)));
  return c;
}

bool cidr::contains(const ip_address& a) const {
  for (int i = 0; i < prefix; ++i) {
    auto byte = static_cast<std::size_t>(i / 8);
    auto mask = static_cast<std::uint8_t>(0x80u >> (i % 8));
    if ((a.bytes[byte] & mask) != (network.bytes[byte] & mask)) return false;
  }
  return true;
}

std::string cidr::to_string() const {
  return network.to_string() + "/" + std::to_string(network.is_v4() ? prefix - 96 : prefix);
}

std::optional<host_port> host_port::parse(std::string_view text, bool allow_names) {
  host_port hp;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    hp.host = std::string(text.substr(1, close - 1));
    if (!ip_address::parse(hp.host) || ip_address::parse(hp.host)->is_v4()) return std::nullopt;
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return std::nullopt;  // IPv6 needs brackets
    port = text.substr(colon + 1);
    if (!ip_address::parse(hp.host)) {
      if (!allow_names) return std::nullopt;
      for (char c : hp.host)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return std::nullopt;
    }
  }
  unsigned long long p;
  if (!parse_u64(port, p) || p > 65535) return std::nullopt;
  hp.port = static_cast<std::uint16_t>(p);
  return hp;
}

std::string host_port::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace smtpsd::base
