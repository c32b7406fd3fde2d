#include <algorithm>
#include <map>
#include <tuple>

#include "store/postgres/pg_stores.hpp"

namespace smtpsd::store::postgres {

namespace {

// Taken by every transaction that appends events, just before it does: the
// sequence numbers are then committed in order, so a reader that has seen
// seq N never sees a smaller one appear later (a webhook cursor skips none).
constexpr std::int64_t event_order_lock = 0x736d747073640002;

std::int64_t ms(time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
time_point from_ms(std::int64_t v) { return time_point{std::chrono::milliseconds{v}}; }

const std::string event_columns = "seq, id, time, type, account, configuration_set, record";

stored_event read_event(const result& r, int row, int base = 0) {
  stored_event e;
  e.seq = r.int64(row, base + 0);
  e.id = r.text(row, base + 1);
  e.time = from_ms(r.int64(row, base + 2));
  e.type = r.text(row, base + 3);
  e.account = r.text(row, base + 4);
  e.configuration_set = r.text(row, base + 5);
  e.record = r.text(row, base + 6);
  return e;
}

using column = std::vector<std::optional<std::string>>;

}  // namespace

std::vector<std::int64_t> append_events(connection& c, std::span<const stored_event> events) {
  if (events.empty()) return {};
  c.exec("SELECT pg_advisory_xact_lock($1)", event_order_lock);
  column ids, times, types, accounts, sets, records;
  std::map<std::tuple<std::int64_t, std::string, std::string>, std::pair<std::int64_t, std::int64_t>> stats;
  for (const auto& e : events) {
    ids.push_back(clean_text(e.id));
    times.push_back(std::to_string(ms(e.time)));
    types.push_back(clean_text(e.type));
    accounts.push_back(clean_text(e.account));
    sets.push_back(clean_text(e.configuration_set));
    records.push_back(clean_text(e.record));
    auto& s = stats[{ms(e.time) / 900000 * 900, *accounts.back(), *types.back()}];
    s.first += 1;
    s.second += e.recipients;
  }
  auto r = c.exec(
      "INSERT INTO events(id, time, type, account, configuration_set, record) "
      "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) RETURNING seq",
      array_literal(ids), array_literal(times), array_literal(types), array_literal(accounts), array_literal(sets),
      array_literal(records));
  std::vector<std::int64_t> seqs;
  for (int i = 0; i < r.rows(); ++i) seqs.push_back(r.int64(i, 0));
  std::sort(seqs.begin(), seqs.end());  // given in the order of the rows
  column buckets, s_accounts, s_types, counts, recipients;
  for (auto& [k, v] : stats) {
    buckets.push_back(std::to_string(std::get<0>(k)));
    s_accounts.push_back(std::get<1>(k));
    s_types.push_back(std::get<2>(k));
    counts.push_back(std::to_string(v.first));
    recipients.push_back(std::to_string(v.second));
  }
  c.exec(
      "INSERT INTO event_stats(bucket, account, type, events, recipients) "
      "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) "
      "ON CONFLICT (bucket, account, type) DO UPDATE SET events = event_stats.events + excluded.events, "
      "recipients = event_stats.recipients + excluded.recipients",
      array_literal(buckets), array_literal(s_accounts), array_literal(s_types), array_literal(counts),
      array_literal(recipients));
  return seqs;
}

std::vector<std::int64_t> pg_event_store::append(std::span<const stored_event> events) {
  return db_->with([&](connection& c) {
    transaction t(c);
    auto seqs = append_events(c, events);
    t.commit();
    return seqs;
  });
}

std::vector<stored_event> pg_event_store::read_after(std::int64_t seq, std::size_t limit) {
  return db_->with([&](connection& c) {
    auto r = c.exec("SELECT " + event_columns + " FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", seq,
                    static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    std::vector<stored_event> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_event(r, i));
    return out;
  });
}

std::int64_t pg_event_store::last_seq() {
  return db_->with([](connection& c) {
    // The sequence, so a pruned log still reports its last number.
    auto r = c.exec("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_seq_seq");
    return r.int64(0, 0);
  });
}

std::vector<stored_event> pg_event_store::query(const event_query& q) {
  return db_->with([&](connection& c) {
    auto r = c.exec("SELECT " + event_columns +
                        " FROM events WHERE ($1 = '' OR type = $1) AND ($2 = '' OR account = $2) AND time >= $3::bigint "
                        "AND time <= $4::bigint AND ($5::bigint = 0 OR seq < $5::bigint) ORDER BY seq DESC LIMIT $6",
                    q.type, q.account, q.since ? ms(*q.since) : INT64_MIN, q.until ? ms(*q.until) : INT64_MAX,
                    q.before_seq, static_cast<std::int64_t>(std::min<std::size_t>(q.limit, INT64_MAX)));
    std::vector<stored_event> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_event(r, i));
    return out;
  });
}

std::optional<std::int64_t> pg_event_store::cursor(std::string_view consumer) {
  return db_->with([&](connection& c) -> std::optional<std::int64_t> {
    auto r = c.exec("SELECT seq FROM event_cursors WHERE consumer = $1", consumer);
    if (r.rows() == 0) return std::nullopt;
    return r.int64(0, 0);
  });
}

void pg_event_store::set_cursor(std::string_view consumer, std::int64_t seq) {
  db_->with([&](connection& c) {
    c.exec("INSERT INTO event_cursors(consumer, seq) VALUES ($1,$2) ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
           consumer, seq);
  });
}

void pg_event_store::add_dead_letter(std::string_view consumer, std::int64_t seq, std::string_view reason,
                                     time_point when) {
  db_->with([&](connection& c) {
    c.exec("INSERT INTO event_dead_letters(consumer, seq, reason, time, redeliver) VALUES ($1,$2,$3,$4,false) "
           "ON CONFLICT (consumer, seq) DO UPDATE SET reason = excluded.reason, time = excluded.time, redeliver = false",
           consumer, seq, clean_text(reason), ms(when));
  });
}

std::vector<dead_letter> pg_event_store::dead_letters(std::string_view consumer) {
  return db_->with([&](connection& c) {
    auto r = c.exec(
        "SELECT e.seq, e.id, e.time, e.type, e.account, e.configuration_set, e.record, d.consumer, d.reason, d.time, "
        "d.redeliver FROM event_dead_letters d JOIN events e ON e.seq = d.seq "
        "WHERE ($1 = '' OR d.consumer = $1) ORDER BY d.consumer COLLATE \"C\", d.seq",
        consumer);
    std::vector<dead_letter> out;
    for (int i = 0; i < r.rows(); ++i) {
      dead_letter d;
      d.event = read_event(r, i);
      d.consumer = r.text(i, 7);
      d.reason = r.text(i, 8);
      d.when = from_ms(r.int64(i, 9));
      d.redeliver = r.boolean(i, 10);
      out.push_back(std::move(d));
    }
    return out;
  });
}

std::size_t pg_event_store::request_redelivery(std::string_view consumer, std::string_view event_id) {
  return db_->with([&](connection& c) {
    return static_cast<std::size_t>(
        c.exec("UPDATE event_dead_letters SET redeliver = true WHERE ($1 = '' OR consumer = $1) "
               "AND ($2 = '' OR seq IN (SELECT seq FROM events WHERE id = $2))",
               consumer, event_id)
            .affected());
  });
}

void pg_event_store::remove_dead_letter(std::string_view consumer, std::int64_t seq) {
  db_->with([&](connection& c) { c.exec("DELETE FROM event_dead_letters WHERE consumer = $1 AND seq = $2", consumer, seq); });
}

std::size_t pg_event_store::prune(time_point before) {
  return db_->with([&](connection& c) {
    return static_cast<std::size_t>(
        c.exec("DELETE FROM events WHERE time < $1 AND seq <= (SELECT coalesce(min(seq), 9223372036854775807) "
               "FROM event_cursors) AND seq NOT IN (SELECT seq FROM event_dead_letters)",
               ms(before))
            .affected());
  });
}

void pg_event_store::prune_statistics(time_point before) {
  db_->with([&](connection& c) { c.exec("DELETE FROM event_stats WHERE bucket < $1", ms(before) / 1000); });
}

std::vector<stat_bucket> pg_event_store::statistics(time_point since, std::string_view account) {
  return db_->with([&](connection& c) {
    auto r = c.exec(
        "SELECT bucket, type, sum(events), sum(recipients) FROM event_stats WHERE bucket >= $1 AND ($2 = '' OR account = $2) "
        "GROUP BY bucket, type ORDER BY bucket, type COLLATE \"C\"",
        ms(since) / 900000 * 900, account);
    std::vector<stat_bucket> out;
    for (int i = 0; i < r.rows(); ++i)
      out.push_back({from_ms(r.int64(i, 0) * 1000), r.text(i, 1), static_cast<std::uint64_t>(r.int64(i, 2)),
                     static_cast<std::uint64_t>(r.int64(i, 3))});
    return out;
  });
}

bool pg_event_store::hold_role(std::string_view role, time_point now, time_point until) {
  return db_->with([&](connection& c) {
    return c
               .exec("INSERT INTO roles(role, node, until) VALUES ($1, $2, $4) ON CONFLICT (role) DO UPDATE "
                     "SET node = excluded.node, until = excluded.until WHERE roles.node = excluded.node "
                     "OR roles.until <= $3 RETURNING node",
                     role, node_, ms(now), ms(until))
               .rows() > 0;
  });
}

}  // namespace smtpsd::store::postgres
