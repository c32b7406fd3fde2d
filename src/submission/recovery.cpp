#include "submission/recovery.hpp"

#include <set>

namespace smtpsd::submission {

std::size_t remove_unqueued_bodies(store::stores& s) {
  if (s.bodies->shared()) return 0;
  auto queued = s.queue->ids();
  std::set<std::string> known(queued.begin(), queued.end());
  std::size_t removed = 0;
  for (auto& id : s.bodies->ids()) {
    if (known.count(id)) continue;
    s.bodies->remove(id);
    ++removed;
  }
  return removed;
}

}  // namespace smtpsd::submission
