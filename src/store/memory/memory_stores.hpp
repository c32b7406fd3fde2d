#pragma once
// In-memory stores for tests: the same behaviour as the real backends,
// checked by the same conformance suite.
#include "store/stores.hpp"

namespace smtpsd::store::memory {

stores open();

}  // namespace smtpsd::store::memory
