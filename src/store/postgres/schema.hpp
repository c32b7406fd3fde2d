#pragma once
// The PostgreSQL schema as numbered migrations; version N is migrations()[N-1].
// Plain SQL that PostgreSQL-wire-compatible distributed databases also run:
// no triggers, no stored procedures, times as integer Unix seconds.
#include <vector>

namespace smtpsd::store::postgres {
const std::vector<const char*>& migrations();
}
