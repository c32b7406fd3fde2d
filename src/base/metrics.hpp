#pragma once
// A small Prometheus registry. Look a metric up once and keep the reference:
// updates are lock-free atomics; only lookup and rendering take the lock.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smtpsd::base {

using labels = std::vector<std::pair<std::string, std::string>>;

class counter {
 public:
  void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class gauge {
 public:
  void set(std::int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) { v_.fetch_add(d, std::memory_order_relaxed); }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  std::uint64_t bucket(std::size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micro_{0};
};

class metrics_registry {
 public:
  counter& get_counter(std::string_view name, std::string_view help, const labels& l = {});
  gauge& get_gauge(std::string_view name, std::string_view help, const labels& l = {});
  histogram& get_histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                           const labels& l = {});
  // A gauge computed when /metrics is read (queue size, say). A callback that
  // reads an object which may go away is registered through gauge_callback.
  void set_gauge_callback(std::string_view name, std::string_view help, std::function<double()> fn);
  std::string render_prometheus() const;
  // A series' current value: a counter or gauge summed over its label sets,
  // a callback gauge's reading; 0 when it does not exist.
  double value(std::string_view name) const;

 private:
  struct family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<counter>> counters;
    std::map<std::string, std::unique_ptr<gauge>> gauges;
    std::map<std::string, std::unique_ptr<histogram>> histograms;
    std::function<double()> callback;
  };
  family& fam(std::string_view name, std::string_view help, const char* type);
  mutable std::mutex mu_;
  std::map<std::string, family, std::less<>> families_;
};

metrics_registry& metrics();

// Latency buckets in seconds, shared by the latency histograms.
std::vector<double> latency_buckets();

// A callback gauge registered for as long as this object lives: when it goes,
// or at freeze(), the series keeps the callback's last reading as a constant,
// so /metrics never calls into an object that is gone. Declare it after the
// members its callback reads (it is destroyed, and reads them, first).
class gauge_callback {
 public:
  gauge_callback() = default;
  gauge_callback(metrics_registry& registry, std::string name, std::string help, std::function<double()> fn);
  gauge_callback(gauge_callback&& o) noexcept { *this = std::move(o); }
  gauge_callback& operator=(gauge_callback&& o) noexcept;
  gauge_callback(const gauge_callback&) = delete;
  gauge_callback& operator=(const gauge_callback&) = delete;
  ~gauge_callback() { freeze(); }
  void freeze();

 private:
  metrics_registry* registry_ = nullptr;
  std::string name_, help_;
  std::function<double()> fn_;
};

}  // namespace smtpsd::base
