#include "service/service.hpp"

#include "base/time_format.hpp"

namespace smtpsd::service {

json time_json(const std::optional<base::time_point>& t) {
  if (!t) return nullptr;
  return base::rfc3339(*t);
}

}  // namespace smtpsd::service
