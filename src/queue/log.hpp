#pragma once
// The queue module's logger, shared by its files (one definition, so the files
// can compile in one unity batch).
#include "base/log.hpp"

namespace smtpsd::queue {

inline const std::shared_ptr<spdlog::logger>& log() {
  static const auto l = base::logger("queue");
  return l;
}

}  // namespace smtpsd::queue
