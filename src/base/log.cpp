#include "base/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <mutex>

#include "base/json_out.hpp"
#include "base/time_format.hpp"

namespace smtpsd::base {

namespace {

// A line is written for every connection and every message: the part of the
// timestamp up to the second is formatted once a second (per thread), the
// rest appended without a format string to parse.
class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    const auto second = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
    const auto milli = static_cast<int>(ms - second * 1000);
    thread_local std::int64_t cached_second = INT64_MIN;
    thread_local std::string cached_prefix;  // {"time":"YYYY-MM-DDTHH:MM:SS
    if (second != cached_second) {
      auto ts = rfc3339(time_point_cast<sys_clock::duration>(sys_seconds(seconds(second))));
      ts.pop_back();  // 'Z'
      cached_prefix = R"({"time":")" + ts;
      cached_second = second;
    }
    // Strings escaped as everywhere else (base::append_json_string: runs
    // copied whole, bytes that start no UTF-8 sequence as U+FFFD).
    thread_local std::string line;
    line.assign(cached_prefix);
    const char frac[] = {'.', static_cast<char>('0' + milli / 100), static_cast<char>('0' + milli / 10 % 10),
                         static_cast<char>('0' + milli % 10)};
    line.append(frac, sizeof frac);
    line += R"(Z","level":")";
    const auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += R"(","module":)";
    append_json_string(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    line += R"(,"msg":)";
    append_json_string(line, std::string_view(msg.payload.data(), msg.payload.size()));
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

}  // namespace

std::unique_ptr<spdlog::formatter> make_json_formatter() { return std::make_unique<json_formatter>(); }

namespace {

std::mutex mu;
spdlog::sink_ptr shared_sink;
spdlog::level::level_enum current_level = spdlog::level::info;

spdlog::sink_ptr sink_locked() {
  if (!shared_sink) {
    shared_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    shared_sink->set_formatter(std::make_unique<json_formatter>());
  }
  return shared_sink;
}

}  // namespace

void init_logging(log_format format, spdlog::level::level_enum level) {
  std::lock_guard lock(mu);
  auto sink = sink_locked();
  if (format == log_format::json)
    sink->set_formatter(std::make_unique<json_formatter>());
  else
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v",
                                                                     spdlog::pattern_time_type::utc));
  current_level = level;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
}

std::shared_ptr<spdlog::logger> logger(std::string_view module) {
  std::lock_guard lock(mu);
  std::string name(module);
  if (auto l = spdlog::get(name)) return l;
  auto l = std::make_shared<spdlog::logger>(name, sink_locked());
  l->set_level(current_level);
  l->flush_on(spdlog::level::trace);
  spdlog::register_logger(l);
  return l;
}

}  // namespace smtpsd::base
