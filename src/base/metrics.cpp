#include "base/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace smtpsd::base {

namespace {
std::string label_text(const labels& l) {
  if (l.empty()) return {};
  std::string s = "{";
  bool first = true;
  for (auto& [k, v] : l) {
    if (!first) s += ',';
    first = false;
    s += k;
    s += "=\"";
    for (char c : v) {
      if (c == '"' || c == '\\') s += '\\';
      if (c == '\n') {
        s += "\\n";
        continue;
      }
      s += c;
    }
    s += '"';
  }
  s += '}';
  return s;
}

std::string with_label(const std::string& lt, std::string_view extra) {
  if (lt.empty()) return fmt::format("{{{}}}", extra);
  return fmt::format("{},{}}}", lt.substr(0, lt.size() - 1), extra);
}
}  // namespace

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<std::uint64_t>(std::max(0.0, v) * 1e6), std::memory_order_relaxed);
}

metrics_registry::family& metrics_registry::fam(std::string_view name, std::string_view help,
                                                const char* type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), family{}).first;
    it->second.help = help;
    it->second.type = type;
  }
  return it->second;
}

counter& metrics_registry::get_counter(std::string_view name, std::string_view help, const labels& l) {
  std::lock_guard lock(mu_);
  auto& f = fam(name, help, "counter");
  auto& slot = f.counters[label_text(l)];
  if (!slot) slot = std::make_unique<counter>();
  return *slot;
}

gauge& metrics_registry::get_gauge(std::string_view name, std::string_view help, const labels& l) {
  std::lock_guard lock(mu_);
  auto& f = fam(name, help, "gauge");
  auto& slot = f.gauges[label_text(l)];
  if (!slot) slot = std::make_unique<gauge>();
  return *slot;
}

histogram& metrics_registry::get_histogram(std::string_view name, std::string_view help,
                                           std::vector<double> bounds, const labels& l) {
  std::lock_guard lock(mu_);
  auto& f = fam(name, help, "histogram");
  auto& slot = f.histograms[label_text(l)];
  if (!slot) slot = std::make_unique<histogram>(std::move(bounds));
  return *slot;
}

void metrics_registry::set_gauge_callback(std::string_view name, std::string_view help,
                                          std::function<double()> fn) {
  std::lock_guard lock(mu_);
  fam(name, help, "gauge").callback = std::move(fn);
}

gauge_callback::gauge_callback(metrics_registry& registry, std::string name, std::string help,
                               std::function<double()> fn)
    : registry_(&registry), name_(std::move(name)), help_(std::move(help)), fn_(std::move(fn)) {
  registry_->set_gauge_callback(name_, help_, fn_);
}

gauge_callback& gauge_callback::operator=(gauge_callback&& o) noexcept {
  if (this == &o) return *this;
  freeze();
  registry_ = std::exchange(o.registry_, nullptr);
  name_ = std::move(o.name_);
  help_ = std::move(o.help_);
  fn_ = std::move(o.fn_);
  return *this;
}

void gauge_callback::freeze() {
  if (!registry_) return;
  const double last = fn_();
  registry_->set_gauge_callback(name_, help_, [last] { return last; });
  registry_ = nullptr;
  fn_ = nullptr;
}

double metrics_registry::value(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  const auto& f = it->second;
  double sum = 0;
  for (auto& [lt, c] : f.counters) sum += static_cast<double>(c->value());
  for (auto& [lt, g] : f.gauges) sum += static_cast<double>(g->value());
  if (f.callback) sum += f.callback();
  return sum;
}

std::string metrics_registry::render_prometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (auto& [lt, c] : f.counters) out += fmt::format("{}{} {}\n", name, lt, c->value());
    for (auto& [lt, g] : f.gauges) out += fmt::format("{}{} {}\n", name, lt, g->value());
    if (f.callback) out += fmt::format("{} {}\n", name, f.callback());
    for (auto& [lt, h] : f.histograms) {
      std::uint64_t cum = 0;
      for (std::size_t i = 0; i < h->bounds().size(); ++i) {
        cum += h->bucket(i);
        out += fmt::format("{}_bucket{} {}\n", name, with_label(lt, fmt::format("le=\"{}\"", h->bounds()[i])), cum);
      }
      cum += h->bucket(h->bounds().size());
      out += fmt::format("{}_bucket{} {}\n", name, with_label(lt, "le=\"+Inf\""), cum);
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, lt, h->sum(), name, lt, h->count());
    }
  }
  return out;
}

metrics_registry& metrics() {
  static metrics_registry r;
  return r;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace smtpsd::base
