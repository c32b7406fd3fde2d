#pragma once
#include <vector>

namespace smtpsd::store::embedded {
// Migrations in order; PRAGMA user_version counts those applied. Append only.
const std::vector<const char*>& migrations();
}  // namespace smtpsd::store::embedded
