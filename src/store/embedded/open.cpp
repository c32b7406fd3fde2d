#include <sys/stat.h>

#include <fmt/format.h>

#include "store/embedded/mapped_change_signal.hpp"
#include "store/embedded/segment_spool.hpp"
#include "store/embedded/sqlite_stores.hpp"

namespace smtpsd::store::embedded {

stores open(const std::filesystem::path& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) throw store_error(fmt::format("cannot create {}: {}", data_dir.string(), ec.message()), false);
  ::chmod(data_dir.c_str(), 0700);
  auto db = std::make_shared<database>(data_dir / "smtpsd.db", 3);  // and the writer
  auto changes = std::make_shared<mapped_change_signal>(data_dir / "smtpsd.changes");
  stores s;
  s.accounts = std::make_shared<sqlite_account_store>(db, changes);
  s.queue = std::make_shared<sqlite_queue_store>(db);
  s.bodies = std::make_shared<segment_spool>(data_dir / "spool");
  s.suppressions = std::make_shared<sqlite_suppression_store>(db, changes);
  s.events = std::make_shared<sqlite_event_store>(db);
  return s;
}

}  // namespace smtpsd::store::embedded
