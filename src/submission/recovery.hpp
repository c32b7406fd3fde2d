#pragma once
#include "store/stores.hpp"

namespace smtpsd::submission {

// At start-up: a body without queue metadata belongs to a message that never
// got its 250 (the process died between spool and commit); it is removed.
// Returns how many were removed.
std::size_t remove_unqueued_bodies(store::stores& s);

}  // namespace smtpsd::submission
