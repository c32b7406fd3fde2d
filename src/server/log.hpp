#pragma once
// The server module's logger, shared by its files (one definition, so the files
// can compile in one unity batch).
#include "base/log.hpp"

namespace smtpsd::server {

inline const std::shared_ptr<spdlog::logger>& log() {
  static const auto l = base::logger("server");
  return l;
}

}  // namespace smtpsd::server
