#pragma once
// TLS session ticket keys, made at random in memory and rotated: tickets are
// issued under the current key; tickets under the previous key are still
// accepted (and renewed); older ones are refused, so a key lives at most two
// periods and never touches the disk. One set per process, shared by every
// TLS context, so a certificate reload does not void tickets.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace smtpsd::net {

class ticket_keys {
 public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;
  struct key {
    std::array<std::uint8_t, 16> name{};
    std::array<std::uint8_t, 32> aes{};
    std::array<std::uint8_t, 32> hmac{};
  };

  explicit ticket_keys(std::chrono::seconds period, clock_fn now = [] { return std::chrono::steady_clock::now(); });

  // The key to issue a ticket under (rotating first when the period is over).
  key current();
  // The key a ticket names, and whether the ticket should be renewed (it was
  // made under the previous key); nullopt when it is unknown or too old.
  std::optional<std::pair<key, bool>> find(const std::uint8_t* name);

  static ticket_keys& process();

 private:
  void rotate_if_due();
  key fresh() const;

  std::mutex mu_;
  std::chrono::seconds period_;
  clock_fn now_;
  key current_, previous_;
  bool has_previous_ = false;
  std::chrono::steady_clock::time_point since_;
};

}  // namespace smtpsd::net
