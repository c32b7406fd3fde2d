#pragma once
// In-memory stores for tests: the same behaviour as the real backends,
// checked by the same conformance suite.
#include "store/stores.hpp"

namespace smtpsd::store::memory {

// replaying: as the embedded backend, the spool's writers keep replay data,
// its syncs say where they ended, and the queue records spool positions
// (the replay data is kept nowhere: for tests of who relies on it).
stores open(bool replaying = false);

}  // namespace smtpsd::store::memory
