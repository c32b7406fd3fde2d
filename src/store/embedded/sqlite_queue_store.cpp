#include <algorithm>
#include <map>
#include <utility>

#include "base/strings.hpp"
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
  m.ret = static_cast<base::dsn_ret>(s.int64(8));
  m.body = static_cast<base::body_type>(s.int64(9));
  m.smtputf8 = s.int64(10) != 0;
  m.configuration_set = s.text(11);
  m.tags = decode_tags(s.text(12));
  m.client_ip = s.text(13);
  m.lease_token = s.int64(14);
  m.tls = static_cast<base::tls_demand>(s.int64(15));
  return m;
}

void load_recipients(connection& c, queued_message& m) {
  auto s = c.prepare(
      "SELECT address, orcpt, notify, status, attempts, next_attempt, last_response, delay_warned FROM recipients "
      "WHERE message_id = ? ORDER BY idx");
  s.bind(1, m.id);
  while (s.step()) {
    queued_recipient r;
    r.address = s.text(0);
    r.orcpt = s.text(1);
    r.notify = base::dsn_notify(static_cast<unsigned>(s.int64(2)));
    r.status = static_cast<rcpt_status>(s.int64(3));
    r.attempts = static_cast<unsigned>(s.int64(4));
    if (auto v = s.opt_int64(5)) r.next_attempt = base::from_unix_seconds(*v);
    r.last_response = s.text(6);
    if (auto v = s.opt_int64(7)) r.delay_warned = base::from_unix_seconds(*v);
    m.recipients.push_back(std::move(r));
  }
}

}  // namespace

std::vector<std::int64_t> sqlite_queue_store::enqueue(std::span<const queued_message> batch,
                                                      std::span<const stored_event> events, enqueue_lease lease,
                                                      std::optional<spool_cover> cover) {
  return db_->write([&](connection& c) {
    // A replayable batch's rows are kept in the spool as well: the commit
    // need not wait for the WAL's sync (the next synced commit or checkpoint
    // makes it durable; until then a power cut leaves them to the replay).
    transaction t(c, cover && cover->replayable ? durability::relaxed : durability::full);
    if (cover) {
      c.prepare("UPDATE meta SET value = ? WHERE key = 'spool_segment'")
          .bind(1, static_cast<std::int64_t>(cover->through.segment))
          .run();
      c.prepare("UPDATE meta SET value = ? WHERE key = 'spool_offset'")
          .bind(1, static_cast<std::int64_t>(cover->through.offset))
          .run();
    }
    const std::size_t leased = std::min(lease.count, batch.size());
    std::vector<std::int64_t> tokens;
    if (leased > 0) {
      // One draw from the counter for all of them: the last token, the others just below it.
      auto s = c.prepare("UPDATE meta SET value = value + ? WHERE key = 'lease_token' RETURNING value");
      s.bind(1, static_cast<std::int64_t>(leased));
      if (!s.step()) throw store_error("the lease_token counter is missing", false);
      const auto last = s.int64(0);
      for (std::size_t i = 0; i < leased; ++i) tokens.push_back(last - static_cast<std::int64_t>(leased - 1 - i));
    }
    std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> usage;  // (account, minute) -> recipients
    for (std::size_t n = 0; n < batch.size(); ++n) {
      const auto& m = batch[n];
      c.prepare(
           "INSERT INTO messages(id, account_id, account, sender, size, created, message_id, envid, ret, body, smtputf8, "
           "configuration_set, tags, client_ip, tls, lease_until, lease_token) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
          .bind_static(1, m.id)
          .bind(2, m.account_id)
          .bind_static(3, m.account)
          .bind_static(4, m.from)
          .bind(5, m.size)
          .bind(6, base::unix_seconds(m.created))
          .bind_static(7, m.message_id)
          .bind_static(8, m.envid)
          .bind(9, static_cast<int>(m.ret))
          .bind(10, static_cast<int>(m.body))
          .bind(11, m.smtputf8 ? 1 : 0)
          .bind_static(12, m.configuration_set)
          .bind(13, encode_tags(m.tags))
          .bind_static(14, m.client_ip)
          .bind(15, static_cast<int>(m.tls))
          .bind(16, n < leased ? base::unix_seconds(lease.until) : std::int64_t{0})
          .bind(17, n < leased ? tokens[n] : std::int64_t{0})
          .run();
      int idx = 0;
      for (const auto& r : m.recipients) {
        std::optional<std::int64_t> next;
        if (r.next_attempt) next = base::unix_seconds(*r.next_attempt);
        c.prepare(
             "INSERT INTO recipients(message_id, idx, address, orcpt, notify, status, attempts, next_attempt, last_response) "
             "VALUES (?,?,?,?,?,?,?,?,?)")
            .bind_static(1, m.id)
            .bind(2, idx++)
            .bind_static(3, r.address)
            .bind_static(4, r.orcpt)
            .bind(5, r.notify.bits())
            .bind(6, static_cast<int>(r.status))
            .bind(7, r.attempts)
            .bind(8, next)
            .bind_static(9, r.last_response)
            .run();
      }
      usage[{m.account_id, base::unix_seconds(m.created) / 60 * 60}] += static_cast<std::int64_t>(m.recipients.size());
    }
    // Summed over the batch: one upsert per account and minute, and one
    // deletion of what is older than two days per account.
    std::map<std::int64_t, std::int64_t> latest;  // account -> its latest minute in the batch
    for (const auto& [key, count] : usage) {
      c.prepare(
           "INSERT INTO usage(account_id, minute, count) VALUES (?,?,?) "
           "ON CONFLICT(account_id, minute) DO UPDATE SET count = count + excluded.count")
          .bind(1, key.first)
          .bind(2, key.second)
          .bind(3, count)
          .run();
      latest[key.first] = key.second;  // ascending: the last one is the latest
    }
    for (const auto& [account_id, minute] : latest)
      c.prepare("DELETE FROM usage WHERE account_id = ? AND minute < ?").bind(1, account_id).bind(2, minute - 2 * 86400).run();
    append_events(c, events);
    t.commit();
    return tokens;
  });
}

std::optional<spool_position> sqlite_queue_store::replayed_through() {
  return db_->with([&](connection& c) {
    spool_position at;
    auto s = c.prepare("SELECT key, value FROM meta WHERE key IN ('spool_segment', 'spool_offset')");
    while (s.step())
      (s.text(0) == "spool_segment" ? at.segment : at.offset) = static_cast<std::uint64_t>(s.int64(1));
    return at;
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
        "SELECT id, account_id, account, sender, size, created, message_id, envid, ret, body, smtputf8, configuration_set, tags, "
        "client_ip, lease_token, tls FROM messages "
        "WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    auto m = read_message(s);
    load_recipients(c, m);
    return m;
  });
}

std::vector<queued_message> sqlite_queue_store::list(const queue_query& q) {
  return db_->with([&](connection& c) {
    std::vector<queued_message> out;
    {
#define SMTPSD_PAGE_SQL(first_filter, account_filter)                                                                \
  "SELECT id, account_id, account, sender, size, created, message_id, envid, ret, body, smtputf8, configuration_set, " \
  "tags, client_ip, lease_token, tls FROM messages m WHERE " first_filter account_filter                                                \
  "AND (?3 < 0 OR EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.status = ?3)) "                  \
  "ORDER BY m.id LIMIT ?5"
#define SMTPSD_AFTER "m.id > ?1 AND ?4 = '' "
      // A recipient drives the page from its index (migration 6); otherwise the messages' key, or the account's
      // index, does. prepare() caches by the literal's address, hence three literals.
      auto s = c.prepare(
          !q.recipient.empty()
              ? SMTPSD_PAGE_SQL("m.id IN (SELECT message_id FROM recipients WHERE lower(address) = ?4 "
                                "AND message_id > ?1) ",
                                "AND (?2 = '' OR m.account = ?2) ")
          : q.account.empty() ? SMTPSD_PAGE_SQL(SMTPSD_AFTER, "AND ?2 = '' ")
                              : SMTPSD_PAGE_SQL(SMTPSD_AFTER, "AND m.account = ?2 "));
#undef SMTPSD_AFTER
#undef SMTPSD_PAGE_SQL
      s.bind(1, q.after)
          .bind(2, q.account)
          .bind(3, q.status ? static_cast<int>(*q.status) : -1)
          .bind(4, base::to_lower(q.recipient))
          .bind(5, q.limit > static_cast<std::size_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(q.limit));
      while (s.step()) out.push_back(read_message(s));
    }
    for (auto& m : out) load_recipients(c, m);
    return out;
  });
}

bool sqlite_queue_store::remove(std::string_view id) {
  return db_->write([&](connection& c) {
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
  return db_->write([&](connection& c) {
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

std::vector<queued_message> sqlite_queue_store::claim_due(time_point now, time_point lease_until, std::size_t limit) {
  return db_->write([&](connection& c) {
    const auto t = base::unix_seconds(now);
    auto due = [&](bool retried, std::size_t n) {
      std::vector<std::string> ids;
#define SMTPSD_DUE_SQL(having)                                                                  \
  "SELECT r.message_id FROM recipients r JOIN messages m ON m.id = r.message_id "               \
  "WHERE r.status IN (0, 1) AND r.next_attempt <= ? AND m.lease_until <= ? "                    \
  "GROUP BY r.message_id HAVING " having " ORDER BY MIN(r.next_attempt), r.message_id LIMIT ?"
      // prepare() caches by the literal's address: two literals, never a built string.
      auto s = c.prepare(retried ? SMTPSD_DUE_SQL("MAX(r.attempts) > 0") : SMTPSD_DUE_SQL("MAX(r.attempts) = 0"));
#undef SMTPSD_DUE_SQL
      s.bind(1, t).bind(2, t).bind(3, static_cast<std::int64_t>(n));
      while (s.step()) ids.push_back(s.text(0));
      return ids;
    };
    auto fresh = due(false, limit);
    auto retried = due(true, limit);
    // Half and half; either side takes what the other leaves.
    const std::size_t retry_share = std::min(retried.size(), std::max(limit / 2, limit - std::min(limit, fresh.size())));
    const std::size_t fresh_share = std::min(fresh.size(), limit - retry_share);
    std::vector<std::string> ids(fresh.begin(), fresh.begin() + static_cast<std::ptrdiff_t>(fresh_share));
    ids.insert(ids.end(), retried.begin(), retried.begin() + static_cast<std::ptrdiff_t>(retry_share));

    std::vector<queued_message> out;
    transaction tx(c, durability::relaxed);  // a lease lost in a crash is released at start-up anyway
    for (const auto& id : ids) {
      c.prepare("UPDATE meta SET value = value + 1 WHERE key = 'lease_token'").run();
      c.prepare("UPDATE messages SET lease_until = ?, lease_token = (SELECT value FROM meta WHERE key = 'lease_token') "
                "WHERE id = ?")
          .bind(1, base::unix_seconds(lease_until))
          .bind(2, id)
          .run();
      auto s = c.prepare(
          "SELECT id, account_id, account, sender, size, created, message_id, envid, ret, body, smtputf8, configuration_set, tags, "
        "client_ip, lease_token, tls FROM messages "
          "WHERE id = ?");
      s.bind(1, id);
      if (!s.step()) continue;
      out.push_back(read_message(s));
    }
    tx.commit();
    for (auto& m : out) load_recipients(c, m);
    return out;
  });
}

std::vector<bool> sqlite_queue_store::renew_leases(std::span<const lease_ref> held, time_point lease_until) {
  return db_->write([&](connection& c) {
    transaction tx(c, durability::relaxed);
    std::vector<bool> out;
    for (const auto& h : held) {
      c.prepare("UPDATE messages SET lease_until = ? WHERE id = ? AND lease_token = ?")
          .bind(1, base::unix_seconds(lease_until))
          .bind(2, h.id)
          .bind(3, h.token)
          .run();
      out.push_back(c.changes() > 0);
    }
    tx.commit();
    return out;
  });
}

std::vector<recorded> sqlite_queue_store::record_attempts(std::span<const queued_message> batch,
                                                          std::span<const std::vector<stored_event>> events) {
  return db_->write([&](connection& c) {
    transaction tx(c);
    std::vector<recorded> out;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& m = batch[i];
      auto held = c.prepare("SELECT lease_token FROM messages WHERE id = ?");
      held.bind(1, m.id);
      if (!held.step()) {
        out.push_back(recorded::finished);  // removed meanwhile (queue remove)
        continue;
      }
      if (held.int64(0) != m.lease_token) {
        out.push_back(recorded::lost);
        continue;
      }
      const bool open = std::any_of(m.recipients.begin(), m.recipients.end(), [](const auto& r) { return pending(r.status); });
      int idx = 0;
      // A finished message goes with its recipients: nothing of them to update first.
      for (const auto& r : open ? std::span(m.recipients) : std::span<const queued_recipient>{}) {
        std::optional<std::int64_t> next, warned;
        if (r.next_attempt && pending(r.status)) next = base::unix_seconds(*r.next_attempt);
        if (r.delay_warned) warned = base::unix_seconds(*r.delay_warned);
        c.prepare(
             "UPDATE recipients SET status = ?, attempts = ?, next_attempt = ?, last_response = ?, delay_warned = ? "
             "WHERE message_id = ? AND idx = ?")
            .bind(1, static_cast<int>(r.status))
            .bind(2, r.attempts)
            .bind(3, next)
            .bind(4, r.last_response)
            .bind(5, warned)
            .bind(6, m.id)
            .bind(7, idx++)
            .run();
      }
      if (open)
        c.prepare("UPDATE messages SET lease_until = 0 WHERE id = ?").bind(1, m.id).run();
      else
        c.prepare("DELETE FROM messages WHERE id = ?").bind(1, m.id).run();
      out.push_back(open ? recorded::open : recorded::finished);
      if (i < events.size()) append_events(c, events[i]);
    }
    tx.commit();
    return out;
  });
}

void sqlite_queue_store::release_leases() {
  db_->write([&](connection& c) { c.prepare("UPDATE messages SET lease_until = 0 WHERE lease_until <> 0").run(); });
}

}  // namespace smtpsd::store::embedded
