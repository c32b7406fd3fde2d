#include "store/embedded/sqlite_stores.hpp"

#include <map>
#include <tuple>

namespace smtpsd::store::embedded {

namespace {

std::int64_t ms(time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
time_point from_ms(std::int64_t v) { return time_point{std::chrono::milliseconds{v}}; }

constexpr const char* event_columns = "seq, id, time, type, account, configuration_set, record";

stored_event read_event(const statement& s, int base = 0) {
  stored_event e;
  e.seq = s.int64(base + 0);
  e.id = s.text(base + 1);
  e.time = from_ms(s.int64(base + 2));
  e.type = s.text(base + 3);
  e.account = s.text(base + 4);
  e.configuration_set = s.text(base + 5);
  e.record = s.text(base + 6);
  return e;
}

}  // namespace

std::vector<std::int64_t> append_events(connection& c, std::span<const stored_event> events) {
  std::vector<std::int64_t> seqs;
  seqs.reserve(events.size());
  // The statistics of a batch are summed first: one upsert per bucket,
  // account and type, where a batch of one kind of event had one per event.
  std::map<std::tuple<std::int64_t, std::string_view, std::string_view>, std::pair<std::int64_t, std::int64_t>> stats;
  for (const auto& e : events) {
    c.prepare("INSERT INTO events(id, time, type, account, configuration_set, record) VALUES (?,?,?,?,?,?)")
        .bind_static(1, e.id)
        .bind(2, ms(e.time))
        .bind_static(3, e.type)
        .bind_static(4, e.account)
        .bind_static(5, e.configuration_set)
        .bind_static(6, e.record)
        .run();
    seqs.push_back(c.last_insert_id());
    auto& [count, recipients] = stats[{ms(e.time) / 900000 * 900, e.account, e.type}];
    ++count;
    recipients += static_cast<std::int64_t>(e.recipients);
  }
  for (const auto& [key, sums] : stats)
    c.prepare("INSERT INTO event_stats(bucket, account, type, events, recipients) VALUES (?,?,?,?,?) "
              "ON CONFLICT(bucket, account, type) DO UPDATE SET events = events + excluded.events, "
              "recipients = recipients + excluded.recipients")
        .bind(1, std::get<0>(key))
        .bind(2, std::get<1>(key))
        .bind(3, std::get<2>(key))
        .bind(4, sums.first)
        .bind(5, sums.second)
        .run();
  return seqs;
}

std::vector<std::int64_t> sqlite_event_store::append(std::span<const stored_event> events) {
  return db_->write([&](connection& c) {
    transaction t(c);
    auto seqs = append_events(c, events);
    t.commit();
    return seqs;
  });
}

std::vector<stored_event> sqlite_event_store::read_after(std::int64_t seq, std::size_t limit) {
  return db_->with([&](connection& c) {
    std::vector<stored_event> out;
    auto s = c.prepare("SELECT seq, id, time, type, account, configuration_set, record FROM events "
                       "WHERE seq > ? ORDER BY seq LIMIT ?");
    s.bind(1, seq).bind(2, static_cast<std::int64_t>(limit));
    while (s.step()) out.push_back(read_event(s));
    return out;
  });
}

std::int64_t sqlite_event_store::last_seq() {
  return db_->with([&](connection& c) {
    // The AUTOINCREMENT counter, so a pruned log still reports its last number.
    auto s = c.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    return s.step() ? s.int64(0) : std::int64_t{0};
  });
}

std::vector<stored_event> sqlite_event_store::query(const event_query& q) {
  return db_->with([&](connection& c) {
    std::vector<stored_event> out;
    auto s = c.prepare(
        "SELECT seq, id, time, type, account, configuration_set, record FROM events "
        "WHERE (?1 = '' OR type = ?1) AND (?2 = '' OR account = ?2) AND time >= ?3 AND time <= ?4 "
        "AND (?5 = 0 OR seq < ?5) ORDER BY seq DESC LIMIT ?6");
    s.bind(1, q.type)
        .bind(2, q.account)
        .bind(3, q.since ? ms(*q.since) : INT64_MIN)
        .bind(4, q.until ? ms(*q.until) : INT64_MAX)
        .bind(5, q.before_seq)
        .bind(6, static_cast<std::int64_t>(q.limit));
    while (s.step()) out.push_back(read_event(s));
    return out;
  });
}

std::optional<std::int64_t> sqlite_event_store::cursor(std::string_view consumer) {
  return db_->with([&](connection& c) -> std::optional<std::int64_t> {
    auto s = c.prepare("SELECT seq FROM event_cursors WHERE consumer = ?");
    s.bind(1, consumer);
    if (!s.step()) return std::nullopt;
    return s.int64(0);
  });
}

void sqlite_event_store::set_cursor(std::string_view consumer, std::int64_t seq) {
  db_->write([&](connection& c) {
    c.prepare("INSERT INTO event_cursors(consumer, seq) VALUES (?,?) ON CONFLICT(consumer) DO UPDATE SET seq = excluded.seq")
        .bind(1, consumer)
        .bind(2, seq)
        .run();
  });
}

void sqlite_event_store::add_dead_letter(std::string_view consumer, std::int64_t seq, std::string_view reason,
                                         time_point when) {
  db_->write([&](connection& c) {
    c.prepare("INSERT INTO event_dead_letters(consumer, seq, reason, time, redeliver) VALUES (?,?,?,?,0) "
              "ON CONFLICT(consumer, seq) DO UPDATE SET reason = excluded.reason, time = excluded.time, redeliver = 0")
        .bind(1, consumer)
        .bind(2, seq)
        .bind(3, reason)
        .bind(4, ms(when))
        .run();
  });
}

std::vector<dead_letter> sqlite_event_store::dead_letters(std::string_view consumer) {
  return db_->with([&](connection& c) {
    std::vector<dead_letter> out;
    auto s = c.prepare(
        "SELECT e.seq, e.id, e.time, e.type, e.account, e.configuration_set, e.record, d.consumer, d.reason, d.time, "
        "d.redeliver FROM event_dead_letters d JOIN events e ON e.seq = d.seq "
        "WHERE (?1 = '' OR d.consumer = ?1) ORDER BY d.consumer, d.seq");
    s.bind(1, consumer);
    while (s.step()) {
      dead_letter d;
      d.event = read_event(s);
      d.consumer = s.text(7);
      d.reason = s.text(8);
      d.when = from_ms(s.int64(9));
      d.redeliver = s.int64(10) != 0;
      out.push_back(std::move(d));
    }
    return out;
  });
}

std::size_t sqlite_event_store::request_redelivery(std::string_view consumer, std::string_view event_id) {
  return db_->write([&](connection& c) {
    c.prepare("UPDATE event_dead_letters SET redeliver = 1 WHERE (?1 = '' OR consumer = ?1) "
              "AND (?2 = '' OR seq IN (SELECT seq FROM events WHERE id = ?2))")
        .bind(1, consumer)
        .bind(2, event_id)
        .run();
    return static_cast<std::size_t>(c.changes());
  });
}

void sqlite_event_store::remove_dead_letter(std::string_view consumer, std::int64_t seq) {
  db_->write([&](connection& c) {
    c.prepare("DELETE FROM event_dead_letters WHERE consumer = ? AND seq = ?").bind(1, consumer).bind(2, seq).run();
  });
}

std::size_t sqlite_event_store::prune(time_point before) {
  return db_->write([&](connection& c) {
    c.prepare(
         "DELETE FROM events WHERE time < ? AND seq <= (SELECT COALESCE(MIN(seq), 9223372036854775807) FROM event_cursors) "
         "AND seq NOT IN (SELECT seq FROM event_dead_letters)")
        .bind(1, ms(before))
        .run();
    return static_cast<std::size_t>(c.changes());
  });
}

void sqlite_event_store::prune_statistics(time_point before) {
  db_->write([&](connection& c) {
    c.prepare("DELETE FROM event_stats WHERE bucket < ?").bind(1, ms(before) / 1000).run();
  });
}

std::vector<stat_bucket> sqlite_event_store::statistics(time_point since, std::string_view account) {
  return db_->with([&](connection& c) {
    std::vector<stat_bucket> out;
    auto s = c.prepare("SELECT bucket, type, sum(events), sum(recipients) FROM event_stats "
                       "WHERE bucket >= ?1 AND (?2 = '' OR account = ?2) GROUP BY bucket, type ORDER BY bucket, type");
    s.bind(1, ms(since) / 900000 * 900).bind(2, account);
    while (s.step())
      out.push_back({from_ms(s.int64(0) * 1000), s.text(1), static_cast<std::uint64_t>(s.int64(2)),
                     static_cast<std::uint64_t>(s.int64(3))});
    return out;
  });
}

}  // namespace smtpsd::store::embedded
