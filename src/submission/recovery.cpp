#include "submission/recovery.hpp"

#include <set>

#include "base/ids.hpp"
#include "base/log.hpp"
#include "store/replay.hpp"

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

std::size_t replay_lost_rows(store::stores& s) {
  auto through = s.queue->replayed_through();
  if (!through) return 0;
  auto kept = s.bodies->replay_after(*through);
  if (kept.empty()) return 0;
  auto queued = s.queue->ids();
  std::set<std::string> known(queued.begin(), queued.end());
  static auto log = base::logger("submission");
  std::vector<store::queued_message> batch;
  std::vector<store::stored_event> events;
  std::size_t replayed = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    s.queue->enqueue(batch, events);  // no cover: a commit that syncs
    replayed += batch.size();
    batch.clear();
    events.clear();
  };
  for (auto& k : kept) {
    if (known.count(k.id)) continue;
    auto entry = store::decode_replay(k.data);
    if (!entry || entry->message.id != k.id) {
      log->warn("queue_id={} has replay data that does not check out; not queued again", k.id);
      continue;
    }
    known.insert(k.id);
    batch.push_back(std::move(entry->message));
    for (auto& e : entry->events) events.push_back(std::move(e));
    if (batch.size() >= 256) flush();
  }
  flush();
  return replayed;
}

}  // namespace smtpsd::submission
