#include "base/time_format.hpp"
#include "store/embedded/sqlite_stores.hpp"

namespace smtpsd::store::embedded {

namespace {


queued_message read_message(const statement& s) {
  queued_message m;
  m.id = s.text(0);
  m.account_id = s.int64(1);
  m.account = s.text(2);
  m.from = s.text(3);
  m.size = static_cast<std::uint64_t>(s.int64(4));
  m.created = base::from_unix_seconds(s.int64(5));
  m.message_id = s.text(6);
  m.envid = s.text(7);
  m.ret = static_cast<int>(s.int64(8));
  m.body = static_cast<int>(s.int64(9));
  m.smtputf8 = s.int64(10) != 0;
  return m;
}

void load_recipients(connection& c, queued_message& m) {
  auto s = c.prepare(
      "SELECT address, orcpt, notify, status, attempts, next_attempt, last_response FROM recipients "
      "WHERE message_id = ? ORDER BY idx");
  s.bind(1, m.id);
  while (s.step()) {
    queued_recipient r;
    r.address = s.text(0);
    r.orcpt = s.text(1);
    r.notify = static_cast<unsigned>(s.int64(2));
    r.status = static_cast<rcpt_status>(s.int64(3));
    r.attempts = static_cast<unsigned>(s.int64(4));
    if (auto v = s.opt_int64(5)) r.next_attempt = base::from_unix_seconds(*v);
    r.last_response = s.text(6);
    m.recipients.push_back(std::move(r));
  }
}

}  // namespace

void sqlite_queue_store::enqueue(std::span<const queued_message> batch) {
  db_->with([&](connection& c) {
    transaction t(c);
    for (const auto& m : batch) {
      c.prepare(
           "INSERT INTO messages(id, account_id, account, sender, size, created, message_id, envid, ret, body, smtputf8) "
           "VALUES (?,?,?,?,?,?,?,?,?,?,?)")
          .bind(1, m.id)
          .bind(2, m.account_id)
          .bind(3, m.account)
          .bind(4, m.from)
          .bind(5, m.size)
          .bind(6, base::unix_seconds(m.created))
          .bind(7, m.message_id)
          .bind(8, m.envid)
          .bind(9, m.ret)
          .bind(10, m.body)
          .bind(11, m.smtputf8 ? 1 : 0)
          .run();
      int idx = 0;
      for (const auto& r : m.recipients) {
        std::optional<std::int64_t> next;
        if (r.next_attempt) next = base::unix_seconds(*r.next_attempt);
        c.prepare(
             "INSERT INTO recipients(message_id, idx, address, orcpt, notify, status, attempts, next_attempt, last_response) "
             "VALUES (?,?,?,?,?,?,?,?,?)")
            .bind(1, m.id)
            .bind(2, idx++)
            .bind(3, r.address)
            .bind(4, r.orcpt)
            .bind(5, r.notify)
            .bind(6, static_cast<int>(r.status))
            .bind(7, r.attempts)
            .bind(8, next)
            .bind(9, r.last_response)
            .run();
      }
      const auto minute = base::unix_seconds(m.created) / 60 * 60;
      c.prepare(
           "INSERT INTO usage(account_id, minute, count) VALUES (?,?,?) "
           "ON CONFLICT(account_id, minute) DO UPDATE SET count = count + excluded.count")
          .bind(1, m.account_id)
          .bind(2, minute)
          .bind(3, static_cast<std::int64_t>(m.recipients.size()))
          .run();
      c.prepare("DELETE FROM usage WHERE account_id = ? AND minute < ?")
          .bind(1, m.account_id)
          .bind(2, minute - 2 * 86400)
          .run();
    }
    t.commit();
  });
}

std::vector<usage_bucket> sqlite_queue_store::usage(std::int64_t account_id, time_point since) {
  return db_->with([&](connection& c) {
    std::vector<usage_bucket> out;
    auto s = c.prepare("SELECT minute, count FROM usage WHERE account_id = ? AND minute >= ? ORDER BY minute");
    s.bind(1, account_id).bind(2, base::unix_seconds(since) / 60 * 60);
    while (s.step()) out.push_back({base::from_unix_seconds(s.int64(0)), static_cast<std::uint64_t>(s.int64(1))});
    return out;
  });
}

std::optional<queued_message> sqlite_queue_store::get(std::string_view id) {
  return db_->with([&](connection& c) -> std::optional<queued_message> {
    auto s = c.prepare(
        "SELECT id, account_id, account, sender, size, created, message_id, envid, ret, body, smtputf8 FROM messages "
        "WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    auto m = read_message(s);
    load_recipients(c, m);
    return m;
  });
}

std::vector<queued_message> sqlite_queue_store::list(std::size_t limit) {
  return db_->with([&](connection& c) {
    std::vector<queued_message> out;
    {
      auto s = c.prepare(
          "SELECT id, account_id, account, sender, size, created, message_id, envid, ret, body, smtputf8 FROM messages "
          "ORDER BY id LIMIT ?");
      s.bind(1, limit == 0 ? INT64_MAX : static_cast<std::int64_t>(limit));
      while (s.step()) out.push_back(read_message(s));
    }
    for (auto& m : out) load_recipients(c, m);
    return out;
  });
}

bool sqlite_queue_store::remove(std::string_view id) {
  return db_->with([&](connection& c) {
    c.prepare("DELETE FROM messages WHERE id = ?").bind(1, id).run();
    return c.changes() > 0;
  });
}

std::size_t sqlite_queue_store::count() {
  return db_->with([&](connection& c) {
    auto s = c.prepare("SELECT count(*) FROM messages");
    s.step();
    return static_cast<std::size_t>(s.int64(0));
  });
}

std::vector<std::string> sqlite_queue_store::ids() {
  return db_->with([&](connection& c) {
    std::vector<std::string> out;
    auto s = c.prepare("SELECT id FROM messages");
    while (s.step()) out.push_back(s.text(0));
    return out;
  });
}

std::size_t sqlite_queue_store::retry(std::string_view id, time_point now) {
  return db_->with([&](connection& c) {
    if (id.empty())
      c.prepare("UPDATE recipients SET next_attempt = ? WHERE status IN (0, 1)").bind(1, base::unix_seconds(now)).run();
    else
      c.prepare("UPDATE recipients SET next_attempt = ? WHERE status IN (0, 1) AND message_id = ?")
          .bind(1, base::unix_seconds(now))
          .bind(2, id)
          .run();
    return static_cast<std::size_t>(c.changes());
  });
}

}  // namespace smtpsd::store::embedded
