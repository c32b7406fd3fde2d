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
  if (kept.empty()) {
    s.bodies->recorded(*through);
    return 0;
  }
  auto queued = s.queue->ids();
  std::set<std::string> known(queued.begin(), queued.end());
  static auto log = base::logger("submission");
  std::vector<store::queued_message> batch;
  std::vector<store::stored_event> events;
  std::size_t replayed = 0;
  // The last commit records a position past the last record listed: each
  // one before it has its row now (or was left out on purpose), so neither
  // the next start-up nor a compaction's copy brings one back after its
  // delivery removed the row.
  const store::spool_position past{kept.back().at.segment, kept.back().at.offset + 1};
  auto flush = [&](std::optional<store::spool_cover> cover) {
    if (batch.empty() && !cover) return;
    store::enqueue_covered(*s.queue, *s.bodies, batch, events, {}, cover);  // syncs: the cover is not replayable
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
    if (batch.size() >= 256) flush(std::nullopt);
  }
  flush(store::spool_cover{past, false});
  return replayed;
}

}  // namespace smtpsd::submission
