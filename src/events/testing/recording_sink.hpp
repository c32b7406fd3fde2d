#pragma once
// For tests only: an event sink that keeps every event it gets, emitted or
// already stored, in order; safe from any thread.
#include <mutex>
#include <string>
#include <vector>

#include "events/event.hpp"

namespace smtpsd::events::testing {

class recording_sink final : public sink {
 public:
  void emit(event e) override {
    std::lock_guard l(mu_);
    all_.push_back(std::move(e));
  }
  void stored(std::span<const event> events) override {
    std::lock_guard l(mu_);
    all_.insert(all_.end(), events.begin(), events.end());
  }
  bool wants_headers() const override { return headers; }
  std::vector<event> all() {
    std::lock_guard l(mu_);
    return all_;
  }
  std::vector<event> of(const std::string& type) {
    std::vector<event> out;
    for (auto& e : all())
      if (e.type == type) out.push_back(e);
    return out;
  }
  bool headers = false;

 private:
  std::mutex mu_;
  std::vector<event> all_;
};

}  // namespace smtpsd::events::testing
