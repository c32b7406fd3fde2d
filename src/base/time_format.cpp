#include "base/time_format.hpp"

#include <fmt/format.h>

#include <ctime>
#include <string>

namespace smtpsd::base {

namespace {
std::tm utc(time_point t) {
  std::time_t tt = sys_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

// The text of the last second a thread formatted: a busy server formats the
// same second for many messages and events (gmtime_r and fmt take about
// 3,500 instructions, the copy a tenth of that).
struct second_cache {
  std::time_t second = 0;
  bool valid = false;
  std::string text;
};

template <class Format>
std::string cached(second_cache& c, time_point t, Format format) {
  const std::time_t second = sys_clock::to_time_t(t);  // what utc() formats
  if (!c.valid || c.second != second) {
    c.text = format(utc(t));
    c.second = second;
    c.valid = true;
  }
  return c.text;
}
}  // namespace

std::string rfc3339(time_point t) {
  thread_local second_cache c;
  return cached(c, t, [](const std::tm& tm) {
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec);
  });
}

std::string rfc3339_ms(time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  auto s = rfc3339(t);
  s.insert(s.size() - 1, fmt::format(".{:03}", ms < 0 ? ms + 1000 : ms));
  return s;
}

std::optional<time_point> parse_rfc3339(std::string_view s) {
  std::tm tm{};
  int y, mo, d, h, mi, sec;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ", &y, &mo, &d, &h, &mi, &sec) != 6)
    return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return sys_clock::from_time_t(timegm(&tm));
}

std::string rfc5322_date(time_point t) {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local second_cache c;
  return cached(c, t, [](const std::tm& tm) {
    return fmt::format("{}, {} {} {:04} {:02}:{:02}:{:02} +0000", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                       tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  });
}

std::int64_t unix_seconds(time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

time_point from_unix_seconds(std::int64_t s) { return time_point{std::chrono::seconds{s}}; }

}  // namespace smtpsd::base
