#include "base/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <mutex>

#include "base/time_format.hpp"

namespace smtpsd::base {

namespace {

// Runs that need no escaping are copied whole; bytes from 0x80 up pass as
// they are (a payload is UTF-8 or the caller's printable() form).
void json_escape(std::string_view in, spdlog::memory_buf_t& out) {
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t i = 0;
  while (i < in.size()) {
    std::size_t j = i;
    while (j < in.size()) {
      const auto c = static_cast<unsigned char>(in[j]);
      if (c < 0x20 || c == '"' || c == '\\') break;
      ++j;
    }
    out.append(in.data() + i, in.data() + j);
    if (j == in.size()) break;
    const auto c = static_cast<unsigned char>(in[j]);
    switch (c) {
      case '"': out.append(std::string_view("\\\"")); break;
      case '\\': out.append(std::string_view("\\\\")); break;
      case '\n': out.append(std::string_view("\\n")); break;
      case '\r': out.append(std::string_view("\\r")); break;
      case '\t': out.append(std::string_view("\\t")); break;
      default: {
        const char u[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        out.append(u, u + sizeof u);
      }
    }
    i = j + 1;
  }
}

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
    dest.append(std::string_view(cached_prefix));
    const char frac[] = {'.', static_cast<char>('0' + milli / 100), static_cast<char>('0' + milli / 10 % 10),
                         static_cast<char>('0' + milli % 10)};
    dest.append(frac, frac + sizeof frac);
    dest.append(std::string_view(R"(Z","level":")"));
    const auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    dest.append(std::string_view(R"(","module":")"));
    json_escape(std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
    dest.append(std::string_view(R"(","msg":")"));
    json_escape(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    dest.append(std::string_view("\"}\n"));
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
