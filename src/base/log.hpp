#pragma once
// One named logger per module ("server", "delivery", ...). Lines are JSON by
// default: {"time":…,"level":…,"module":…,"msg":…}. Never pass a password,
// an AUTH payload or message bytes to a logger; secret_string prints <redacted>.
#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

namespace smtpsd::base {

enum class log_format { json, text };

void init_logging(log_format format, spdlog::level::level_enum level);
std::shared_ptr<spdlog::logger> logger(std::string_view module);
// The formatter of log_format::json (for tests).
std::unique_ptr<spdlog::formatter> make_json_formatter();

}  // namespace smtpsd::base
