#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "store/embedded/sqlite_stores.hpp"

namespace smtpsd::store::embedded {

bool sqlite_suppression_store::add(std::string_view address, std::string_view reason, time_point when) {
  return db_->with([&](connection& c) {
    c.prepare("INSERT INTO suppression(address, reason, created) VALUES (?,?,?) ON CONFLICT(address) DO NOTHING")
        .bind(1, base::to_lower(address))
        .bind(2, reason)
        .bind(3, base::unix_seconds(when))
        .run();
    return c.changes() > 0;
  });
}

bool sqlite_suppression_store::remove(std::string_view address) {
  return db_->with([&](connection& c) {
    c.prepare("DELETE FROM suppression WHERE address = ?").bind(1, base::to_lower(address)).run();
    return c.changes() > 0;
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

std::vector<suppression_entry> sqlite_suppression_store::list() {
  return db_->with([&](connection& c) {
    std::vector<suppression_entry> out;
    auto s = c.prepare("SELECT address, reason, created FROM suppression ORDER BY address");
    while (s.step()) out.push_back({s.text(0), s.text(1), base::from_unix_seconds(s.int64(2))});
    return out;
  });
}

}  // namespace smtpsd::store::embedded
