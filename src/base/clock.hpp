#pragma once
// Injected time: everything that decides by the clock takes a base::clock&,
// so tests can drive time with manual_clock instead of sleeping.
#include <atomic>
#include <chrono>

namespace smtpsd::base {

using sys_clock = std::chrono::system_clock;
using time_point = sys_clock::time_point;

class clock {
 public:
  virtual ~clock() = default;
  virtual time_point now() const = 0;
};

class system_clock final : public clock {
 public:
  time_point now() const override { return sys_clock::now(); }
};

// Process-wide real clock for code that has no better source.
const clock& real_clock();

class manual_clock final : public clock {
 public:
  explicit manual_clock(time_point start = time_point{std::chrono::seconds{1'800'000'000}})
      : ns_(start.time_since_epoch().count()) {}
  time_point now() const override { return time_point{sys_clock::duration{ns_.load()}}; }
  void advance(sys_clock::duration d) { ns_ += d.count(); }
  void set(time_point t) { ns_ = t.time_since_epoch().count(); }

 private:
  std::atomic<sys_clock::duration::rep> ns_;
};

}  // namespace smtpsd::base
