#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "store/postgres/pg_stores.hpp"

namespace smtpsd::store::postgres {

namespace {
// A change and the generation's move, in one transaction.
template <class F>
bool changing_list(database& db, F&& f) {
  return db.with([&](connection& c) {
    transaction t(c);
    const bool changed = f(c);
    if (changed) c.exec("UPDATE meta SET value = value + 1 WHERE key = 'suppressions'");
    t.commit();
    return changed;
  });
}
}  // namespace

bool pg_suppression_store::add(std::string_view address, std::string_view reason, time_point when) {
  return changing_list(*db_, [&](connection& c) {
    return c
               .exec("INSERT INTO suppression(address, reason, created) VALUES ($1,$2,$3) ON CONFLICT (address) DO NOTHING",
                     clean_text(base::to_lower(address)), clean_text(reason), base::unix_seconds(when))
               .affected() > 0;
  });
}

bool pg_suppression_store::remove(std::string_view address) {
  return changing_list(*db_, [&](connection& c) {
    return c.exec("DELETE FROM suppression WHERE address = $1", clean_text(base::to_lower(address))).affected() > 0;
  });
}

std::uint64_t pg_suppression_store::generation() {
  return db_->with([](connection& c) {
    return static_cast<std::uint64_t>(c.exec("SELECT value FROM meta WHERE key = 'suppressions'").int64(0, 0));
  });
}

std::optional<suppression_entry> pg_suppression_store::find(std::string_view address) {
  return db_->with([&](connection& c) -> std::optional<suppression_entry> {
    auto r = c.exec("SELECT address, reason, created FROM suppression WHERE address = $1",
                    clean_text(base::to_lower(address)));
    if (r.rows() == 0) return std::nullopt;
    return suppression_entry{r.text(0, 0), r.text(0, 1), base::from_unix_seconds(r.int64(0, 2))};
  });
}

std::vector<suppression_entry> pg_suppression_store::list(std::string_view after, std::size_t limit,
                                                          std::string_view prefix) {
  return db_->with([&](connection& c) {
    // The prefix as the key's lower bound, so the index range starts there.
    const auto low = clean_text(base::to_lower(prefix));
    const auto cursor = clean_text(base::to_lower(after));
    auto r = c.exec(
        "SELECT address, reason, created FROM suppression WHERE address >= $1 AND address > $2 "
        "AND starts_with(address, $1) ORDER BY address LIMIT $3",
        low, cursor, limit > static_cast<std::size_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(limit));
    std::vector<suppression_entry> out;
    for (int i = 0; i < r.rows(); ++i)
      out.push_back({r.text(i, 0), r.text(i, 1), base::from_unix_seconds(r.int64(i, 2))});
    return out;
  });
}

std::size_t pg_suppression_store::count() {
  return db_->with([](connection& c) { return static_cast<std::size_t>(c.exec("SELECT count(*) FROM suppression").int64(0, 0)); });
}

}  // namespace smtpsd::store::postgres
