#pragma once
// Queue ids: 16 characters of Crockford base32 over 48 bits of milliseconds
// and 32 random bits, so they sort by creation time and never collide in
// practice. Safe as file names.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/clock.hpp"

namespace smtpsd::base {

std::string make_queue_id(time_point t, std::uint32_t random);
bool is_queue_id(std::string_view s);
// When the id was made (to the millisecond); requires is_queue_id(s).
time_point queue_id_time(std::string_view s);

}  // namespace smtpsd::base
