#pragma once
// A value that must never reach a log: formatting it prints <redacted>, and
// the memory is wiped when it goes away.
#include <fmt/format.h>
#include <sodium.h>

#include <ostream>
#include <string>
#include <utility>

namespace smtpsd::base {

class secret_string {
 public:
  secret_string() = default;
  explicit secret_string(std::string v) : v_(std::move(v)) {}
  secret_string(const secret_string&) = default;
  secret_string& operator=(const secret_string&) = default;
  secret_string(secret_string&& o) noexcept : v_(std::move(o.v_)) { o.wipe(); }
  secret_string& operator=(secret_string&& o) noexcept {
    wipe();
    v_ = std::move(o.v_);
    o.wipe();
    return *this;
  }
  ~secret_string() { wipe(); }

  const std::string& expose() const { return v_; }
  bool empty() const { return v_.empty(); }

 private:
  void wipe() {
    if (!v_.empty()) sodium_memzero(v_.data(), v_.size());
    v_.clear();
  }
  std::string v_;
};

inline std::ostream& operator<<(std::ostream& os, const secret_string&) { return os << "<redacted>"; }

}  // namespace smtpsd::base

template <>
struct fmt::formatter<smtpsd::base::secret_string> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const smtpsd::base::secret_string&, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format("<redacted>", ctx);
  }
};
