#include "submission/recovery.hpp"

#include <set>

#include "base/ids.hpp"

namespace smtpsd::submission {

std::size_t remove_unqueued_bodies(store::stores& s, std::optional<base::time_point> made_before) {
  if (s.bodies->shared()) return 0;
  auto bodies = s.bodies->ids();  // before the rows: a body committed in between is in both
  auto queued = s.queue->ids();
  std::set<std::string> known(queued.begin(), queued.end());
  std::size_t removed = 0;
  for (auto& id : bodies) {
    if (known.count(id)) continue;
    if (made_before && (!base::is_queue_id(id) || base::queue_id_time(id) >= *made_before)) continue;
    s.bodies->remove(id);
    ++removed;
  }
  return removed;
}

}  // namespace smtpsd::submission
