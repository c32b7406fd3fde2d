#pragma once
// IP addresses and CIDR ranges, IPv4 held as IPv4-mapped IPv6 so one
// comparison covers both families.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smtpsd::base {

struct ip_address {
  std::array<std::uint8_t, 16> bytes{};
  bool is_v4() const;
  std::string to_string() const;
  static std::optional<ip_address> parse(std::string_view text);
  static ip_address from_v4(const std::array<std::uint8_t, 4>& b);
  bool operator==(const ip_address&) const = default;
  auto operator<=>(const ip_address&) const = default;
};

struct cidr {
  ip_address network;
  int prefix = 0;  // in IPv6 bits (IPv4 /n is stored as 96 + n)
  static std::optional<cidr> parse(std::string_view text);
  bool contains(const ip_address& a) const;
  std::string to_string() const;
};

// "host:port" or "[v6]:port"; host may be a name when allow_names is true.
struct host_port {
  std::string host;
  std::uint16_t port = 0;
  static std::optional<host_port> parse(std::string_view text, bool allow_names);
  std::string to_string() const;
};

}  // namespace smtpsd::base
