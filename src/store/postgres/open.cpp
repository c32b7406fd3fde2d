#include <ctime>

#include "store/postgres/pg_stores.hpp"

namespace smtpsd::store::postgres {

stores open(const std::string& url, const std::string& node, std::size_t pool_size) {
  auto db = std::make_shared<database>(url, pool_size);
  // Bodies no message refers to, from a node that stopped between writing a
  // body and queueing it (or aborted a transaction): an hour old at least,
  // so no other node's message in flight is touched.
  db->with([](connection& c) {
    const auto hour_ago = static_cast<std::int64_t>(std::time(nullptr)) - 3600;
    c.exec("DELETE FROM bodies b WHERE b.created < $1 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = b.id)",
           hour_ago);
    c.exec("DELETE FROM body_chunks k WHERE k.created < $1 AND NOT EXISTS (SELECT 1 FROM bodies b WHERE b.id = k.id)",
           hour_ago);
  });
  stores s;
  s.accounts = std::make_shared<pg_account_store>(db);
  s.queue = std::make_shared<pg_queue_store>(db, node);
  s.bodies = std::make_shared<pg_spool>(db);
  s.suppressions = std::make_shared<pg_suppression_store>(db);
  s.events = std::make_shared<pg_event_store>(db, node);
  return s;
}

}  // namespace smtpsd::store::postgres
