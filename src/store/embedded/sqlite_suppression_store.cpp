#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "store/embedded/sqlite_stores.hpp"

namespace smtpsd::store::embedded {

// A change and the generation's move, in one transaction; then the signal.
template <class F>
bool sqlite_suppression_store::changing_list(F&& f) {
  const bool changed = db_->with([&](connection& c) {
    transaction t(c);
    f(c);
    const bool changed = c.changes() > 0;
    if (changed) c.prepare("UPDATE meta SET value = value + 1 WHERE key = 'suppressions'").run();
    t.commit();
    return changed;
  });
  if (changed) changes_->bump();
  return changed;
}

bool sqlite_suppression_store::add(std::string_view address, std::string_view reason, time_point when) {
  return changing_list([&](connection& c) {
    c.prepare("INSERT INTO suppression(address, reason, created) VALUES (?,?,?) ON CONFLICT(address) DO NOTHING")
        .bind(1, base::to_lower(address))
        .bind(2, reason)
        .bind(3, base::unix_seconds(when))
        .run();
  });
}

bool sqlite_suppression_store::remove(std::string_view address) {
  return changing_list([&](connection& c) {
    c.prepare("DELETE FROM suppression WHERE address = ?").bind(1, base::to_lower(address)).run();
  });
}

std::uint64_t sqlite_suppression_store::generation() {
  return db_->with([](connection& c) {
    auto s = c.prepare("SELECT value FROM meta WHERE key = 'suppressions'");
    s.step();
    return static_cast<std::uint64_t>(s.int64(0));
  });
}

std::optional<suppression_entry> sqlite_suppression_store::find(std::string_view address) {
  return db_->with([&](connection& c) -> std::optional<suppression_entry> {
    auto s = c.prepare("SELECT address, reason, created FROM suppression WHERE address = ?");
    s.bind(1, base::to_lower(address));
    if (!s.step()) return std::nullopt;
    return suppression_entry{s.text(0), s.text(1), base::from_unix_seconds(s.int64(2))};
  });
}

std::vector<suppression_entry> sqlite_suppression_store::list(std::string_view after, std::size_t limit,
                                                              std::string_view prefix) {
  return db_->with([&](connection& c) {
    std::vector<suppression_entry> out;
    // A prefix is a range of the primary key, [prefix, prefix + 0xff), and the cursor moves its lower end. One
    // lower bound, not two: given both, SQLite seeks by one and filters by the other.
    const auto low = base::to_lower(prefix);
    const auto high = low + "\xff";
    const auto cursor = base::to_lower(after);
    const bool past_cursor = cursor >= low;
    auto s = c.prepare(past_cursor ? "SELECT address, reason, created FROM suppression WHERE address > ?1 "
                                     "AND address < ?2 ORDER BY address LIMIT ?3"
                                   : "SELECT address, reason, created FROM suppression WHERE address >= ?1 "
                                     "AND address < ?2 ORDER BY address LIMIT ?3");
    s.bind(1, past_cursor ? cursor : low)
        .bind(2, high)
        .bind(3, limit > static_cast<std::size_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(limit));
    while (s.step()) out.push_back({s.text(0), s.text(1), base::from_unix_seconds(s.int64(2))});
    return out;
  });
}

std::size_t sqlite_suppression_store::count() {
  return db_->with([&](connection& c) {
    auto s = c.prepare("SELECT count(*) FROM suppression");
    s.step();
    return static_cast<std::size_t>(s.int64(0));
  });
}

}  // namespace smtpsd::store::embedded
