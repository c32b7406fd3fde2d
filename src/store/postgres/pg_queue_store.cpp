#include <algorithm>
#include <map>

#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "store/postgres/pg_stores.hpp"

namespace smtpsd::store::postgres {

namespace {

using column = std::vector<std::optional<std::string>>;

const std::string message_columns =
    "m.id, m.account_id, m.account, m.sender, m.size, m.created, m.message_id, m.envid, m.ret, m.body, m.smtputf8, "
    "m.configuration_set, m.tags, m.client_ip, m.lease_token, m.tls";

queued_message read_message(const result& r, int row) {
  queued_message m;
  m.id = r.text(row, 0);
  m.account_id = r.int64(row, 1);
  m.account = r.text(row, 2);
  m.from = r.text(row, 3);
  m.size = static_cast<std::uint64_t>(r.int64(row, 4));
  m.created = base::from_unix_seconds(r.int64(row, 5));
  m.message_id = r.text(row, 6);
  m.envid = r.text(row, 7);
  m.ret = static_cast<base::dsn_ret>(r.int64(row, 8));
  m.body = static_cast<base::body_type>(r.int64(row, 9));
  m.smtputf8 = r.boolean(row, 10);
  m.configuration_set = r.text(row, 11);
  m.tags = decode_tags(r.text(row, 12));
  m.client_ip = r.text(row, 13);
  m.lease_token = r.int64(row, 14);
  m.tls = static_cast<base::tls_demand>(r.int64(row, 15));
  return m;
}

std::optional<std::string> opt_seconds(const std::optional<time_point>& t) {
  if (!t) return std::nullopt;
  return std::to_string(base::unix_seconds(*t));
}

// What claim_due looks at, kept on the message row: the first time a pending
// recipient is due, and whether any was tried before.
struct due_state {
  std::optional<std::string> next_due;
  bool retried = false;
};

due_state due_of(const queued_message& m) {
  due_state d;
  std::optional<std::int64_t> first;
  for (const auto& r : m.recipients) {
    if (!pending(r.status)) continue;
    d.retried = d.retried || r.attempts > 0;
    if (!r.next_attempt) continue;
    const auto t = base::unix_seconds(*r.next_attempt);
    if (!first || t < *first) first = t;
  }
  if (first) d.next_due = std::to_string(*first);
  return d;
}

// The recipients of the messages, attached in order (one query for all).
void load_recipients(connection& c, std::vector<queued_message>& ms) {
  if (ms.empty()) return;
  column ids;
  std::map<std::string, queued_message*> by_id;
  for (auto& m : ms) {
    ids.push_back(m.id);
    by_id[m.id] = &m;
  }
  auto r = c.exec(
      "SELECT message_id, address, orcpt, notify, status, attempts, next_attempt, last_response, delay_warned "
      "FROM recipients WHERE message_id = ANY($1::text[]) ORDER BY message_id, idx",
      array_literal(ids));
  for (int i = 0; i < r.rows(); ++i) {
    queued_recipient q;
    q.address = r.text(i, 1);
    q.orcpt = r.text(i, 2);
    q.notify = base::dsn_notify(static_cast<unsigned>(r.int64(i, 3)));
    q.status = static_cast<rcpt_status>(r.int64(i, 4));
    q.attempts = static_cast<unsigned>(r.int64(i, 5));
    if (auto v = r.opt_int64(i, 6)) q.next_attempt = base::from_unix_seconds(*v);
    q.last_response = r.text(i, 7);
    if (auto v = r.opt_int64(i, 8)) q.delay_warned = base::from_unix_seconds(*v);
    by_id[r.text(i, 0)]->recipients.push_back(std::move(q));
  }
}

std::vector<queued_message> read_messages(const result& r) {
  std::vector<queued_message> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_message(r, i));
  return out;
}

// Rows of recipients for unnest(): every recipient of every message given.
struct recipient_rows {
  column message_id, idx, address, orcpt, notify, status, attempts, next_attempt, last_response, delay_warned;
  void add(const queued_message& m) {
    int i = 0;
    for (const auto& r : m.recipients) {
      message_id.push_back(m.id);
      idx.push_back(std::to_string(i++));
      address.push_back(clean_text(r.address));
      orcpt.push_back(clean_text(r.orcpt));
      notify.push_back(std::to_string(r.notify.bits()));
      status.push_back(std::to_string(static_cast<int>(r.status)));
      attempts.push_back(std::to_string(r.attempts));
      next_attempt.push_back(pending(r.status) ? opt_seconds(r.next_attempt) : std::nullopt);
      last_response.push_back(clean_text(r.last_response));
      delay_warned.push_back(opt_seconds(r.delay_warned));
    }
  }
};

std::int64_t limit_of(std::size_t n) { return n > static_cast<std::size_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(n); }

}  // namespace

std::vector<std::int64_t> pg_queue_store::enqueue(std::span<const queued_message> batch,
                                                  std::span<const stored_event> events, enqueue_lease lease,
                                                  std::optional<spool_cover> /*cover*/) {
  column id, account_id, account, sender, size, created, message_id, envid, ret, body, smtputf8, set, tags, ip, due,
      retried, tls;
  recipient_rows rs;
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> usage;
  for (const auto& m : batch) {
    id.push_back(m.id);
    account_id.push_back(std::to_string(m.account_id));
    account.push_back(clean_text(m.account));
    sender.push_back(clean_text(m.from));
    size.push_back(std::to_string(m.size));
    created.push_back(std::to_string(base::unix_seconds(m.created)));
    message_id.push_back(clean_text(m.message_id));
    envid.push_back(clean_text(m.envid));
    ret.push_back(std::to_string(static_cast<int>(m.ret)));
    body.push_back(std::to_string(static_cast<int>(m.body)));
    smtputf8.push_back(m.smtputf8 ? "t" : "f");
    set.push_back(clean_text(m.configuration_set));
    tags.push_back(clean_text(encode_tags(m.tags)));
    ip.push_back(clean_text(m.client_ip));
    auto d = due_of(m);
    due.push_back(d.next_due);
    retried.push_back(d.retried ? "t" : "f");
    tls.push_back(std::to_string(static_cast<int>(m.tls)));
    rs.add(m);
    usage[{m.account_id, base::unix_seconds(m.created) / 60 * 60}] += static_cast<std::int64_t>(m.recipients.size());
  }
  column u_account, u_minute, u_count;
  std::int64_t newest = 0;
  for (auto& [k, n] : usage) {
    u_account.push_back(std::to_string(k.first));
    u_minute.push_back(std::to_string(k.second));
    u_count.push_back(std::to_string(n));
    newest = std::max(newest, k.second);
  }
  column leased_ids(id.begin(), id.begin() + static_cast<std::ptrdiff_t>(std::min(lease.count, id.size())));
  return db_->with([&](connection& c) {
    transaction t(c);
    c.exec(
        "INSERT INTO messages(id, account_id, account, sender, size, created, message_id, envid, ret, body, smtputf8, "
        "configuration_set, tags, client_ip, next_due, retried, tls) SELECT * FROM unnest($1::text[], $2::bigint[], "
        "$3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::int[], $10::int[], "
        "$11::boolean[], $12::text[], $13::text[], $14::text[], $15::bigint[], $16::boolean[], $17::int[])",
        array_literal(id), array_literal(account_id), array_literal(account), array_literal(sender),
        array_literal(size), array_literal(created), array_literal(message_id), array_literal(envid),
        array_literal(ret), array_literal(body), array_literal(smtputf8), array_literal(set), array_literal(tags),
        array_literal(ip), array_literal(due), array_literal(retried), array_literal(tls));
    c.exec(
        "INSERT INTO recipients(message_id, idx, address, orcpt, notify, status, attempts, next_attempt, "
        "last_response, delay_warned) SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], "
        "$6::int[], $7::int[], $8::bigint[], $9::text[], $10::bigint[])",
        array_literal(rs.message_id), array_literal(rs.idx), array_literal(rs.address), array_literal(rs.orcpt),
        array_literal(rs.notify), array_literal(rs.status), array_literal(rs.attempts),
        array_literal(rs.next_attempt), array_literal(rs.last_response), array_literal(rs.delay_warned));
    c.exec(
        "INSERT INTO usage(account_id, minute, count) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) "
        "ON CONFLICT (account_id, minute) DO UPDATE SET count = usage.count + excluded.count",
        array_literal(u_account), array_literal(u_minute), array_literal(u_count));
    c.exec("DELETE FROM usage WHERE minute < $1", newest - 2 * 86400);
    append_events(c, events);
    std::vector<std::int64_t> tokens;
    if (!leased_ids.empty()) {
      auto r = c.exec(
          "UPDATE messages SET lease_until = $2, lease_node = $3, lease_token = nextval('lease_tokens') "
          "WHERE id = ANY($1::text[]) RETURNING id, lease_token",
          array_literal(leased_ids), base::unix_seconds(lease.until), node_);
      std::map<std::string, std::int64_t> by_id;
      for (int i = 0; i < r.rows(); ++i) by_id[r.text(i, 0)] = r.int64(i, 1);
      for (const auto& i : leased_ids) tokens.push_back(by_id[*i]);
    }
    t.commit();
    return tokens;
  });
}

std::vector<usage_bucket> pg_queue_store::usage(std::int64_t account_id, time_point since) {
  return db_->with([&](connection& c) {
    auto r = c.exec("SELECT minute, count FROM usage WHERE account_id = $1 AND minute >= $2 ORDER BY minute", account_id,
                    base::unix_seconds(since) / 60 * 60);
    std::vector<usage_bucket> out;
    for (int i = 0; i < r.rows(); ++i)
      out.push_back({base::from_unix_seconds(r.int64(i, 0)), static_cast<std::uint64_t>(r.int64(i, 1))});
    return out;
  });
}

std::optional<queued_message> pg_queue_store::get(std::string_view id) {
  return db_->with([&](connection& c) -> std::optional<queued_message> {
    auto ms = read_messages(c.exec("SELECT " + message_columns + " FROM messages m WHERE m.id = $1", id));
    if (ms.empty()) return std::nullopt;
    load_recipients(c, ms);
    return std::move(ms.front());
  });
}

std::vector<queued_message> pg_queue_store::list(const queue_query& q) {
  return db_->with([&](connection& c) {
    auto ms = read_messages(c.exec(
        "SELECT " + message_columns +
            " FROM messages m WHERE m.id > $1 AND ($2 = '' OR m.account = $2) "
            "AND ($3::int < 0 OR EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.status = $3::int)) "
            "AND ($4 = '' OR m.id IN (SELECT message_id FROM recipients WHERE lower(address) = $4)) "
            "ORDER BY m.id LIMIT $5",
        q.after, q.account, q.status ? static_cast<int>(*q.status) : -1, base::to_lower(q.recipient),
        limit_of(q.limit)));
    load_recipients(c, ms);
    return ms;
  });
}

bool pg_queue_store::remove(std::string_view id) {
  return db_->with([&](connection& c) { return c.exec("DELETE FROM messages WHERE id = $1", id).affected() > 0; });
}

std::size_t pg_queue_store::count() {
  return db_->with([](connection& c) { return static_cast<std::size_t>(c.exec("SELECT count(*) FROM messages").int64(0, 0)); });
}

std::vector<std::string> pg_queue_store::ids() {
  return db_->with([](connection& c) {
    auto r = c.exec("SELECT id FROM messages");
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    return out;
  });
}

std::size_t pg_queue_store::retry(std::string_view id, time_point now) {
  const auto t = base::unix_seconds(now);
  return db_->with([&](connection& c) {
    transaction tx(c);
    const auto n = c.exec("UPDATE recipients SET next_attempt = $1 WHERE status IN (0, 1) AND ($2 = '' OR message_id = $2)",
                          t, id)
                       .affected();
    c.exec("UPDATE messages SET next_due = $1 WHERE ($2 = '' OR id = $2) "
           "AND id IN (SELECT message_id FROM recipients WHERE status IN (0, 1))",
           t, id);
    tx.commit();
    return static_cast<std::size_t>(n);
  });
}

std::vector<queued_message> pg_queue_store::claim_due(time_point now, time_point lease_until, std::size_t limit) {
  const auto t = base::unix_seconds(now);
  return db_->with([&](connection& c) {
    auto due = [&](bool retried) {
      auto r = c.exec(
          "SELECT id FROM messages WHERE next_due IS NOT NULL AND retried = $1 AND next_due <= $2 AND lease_until <= $2 "
          "ORDER BY next_due, id LIMIT $3",
          retried, t, limit_of(limit));
      std::vector<std::string> ids;
      for (int i = 0; i < r.rows(); ++i) ids.push_back(r.text(i, 0));
      return ids;
    };
    auto fresh = due(false);
    auto retried = due(true);
    // Half and half; either side takes what the other leaves.
    const std::size_t retry_share = std::min(retried.size(), std::max(limit / 2, limit - std::min(limit, fresh.size())));
    const std::size_t fresh_share = std::min(fresh.size(), limit - retry_share);
    column ids(fresh.begin(), fresh.begin() + static_cast<std::ptrdiff_t>(fresh_share));
    ids.insert(ids.end(), retried.begin(), retried.begin() + static_cast<std::ptrdiff_t>(retry_share));
    if (ids.empty()) return std::vector<queued_message>{};
    // The lease is taken only where none is held any more: PostgreSQL checks
    // that again on the row it locks, so a node that claimed it meanwhile wins
    // and this one skips it.
    auto ms = read_messages(c.exec(
        "UPDATE messages m SET lease_until = $2, lease_node = $3, lease_token = nextval('lease_tokens') "
        "WHERE m.id = ANY($1::text[]) AND m.lease_until <= $4 AND m.next_due <= $4 RETURNING " +
            message_columns,
        array_literal(ids), base::unix_seconds(lease_until), node_, t));
    std::map<std::string, std::size_t> order;
    for (std::size_t i = 0; i < ids.size(); ++i) order[*ids[i]] = i;
    std::sort(ms.begin(), ms.end(), [&](const auto& a, const auto& b) { return order[a.id] < order[b.id]; });
    load_recipients(c, ms);
    return ms;
  });
}

std::vector<bool> pg_queue_store::renew_leases(std::span<const lease_ref> held, time_point lease_until) {
  if (held.empty()) return {};
  column ids, tokens;
  for (const auto& h : held) {
    ids.push_back(h.id);
    tokens.push_back(std::to_string(h.token));
  }
  return db_->with([&](connection& c) {
    auto r = c.exec(
        "UPDATE messages m SET lease_until = $1 FROM unnest($2::text[], $3::bigint[]) AS h(id, token) "
        "WHERE m.id = h.id AND m.lease_token = h.token RETURNING m.id",
        base::unix_seconds(lease_until), array_literal(ids), array_literal(tokens));
    std::map<std::string, bool> still;
    for (int i = 0; i < r.rows(); ++i) still[r.text(i, 0)] = true;
    std::vector<bool> out;
    for (const auto& h : held) out.push_back(still.count(h.id) > 0);
    return out;
  });
}

std::vector<recorded> pg_queue_store::record_attempts(std::span<const queued_message> batch,
                                                      std::span<const std::vector<stored_event>> events) {
  if (batch.empty()) return {};
  column all_ids;
  for (const auto& m : batch) all_ids.push_back(m.id);
  return db_->with([&](connection& c) {
    transaction tx(c);
    // Locks the rows: a claim by another node waits for this transaction.
    auto r = c.exec("SELECT id, lease_token FROM messages WHERE id = ANY($1::text[]) FOR UPDATE", array_literal(all_ids));
    std::map<std::string, std::int64_t> tokens;
    for (int i = 0; i < r.rows(); ++i) tokens[r.text(i, 0)] = r.int64(i, 1);
    std::vector<recorded> out;
    recipient_rows rs;
    column open_ids, open_due, open_retried, done_ids;
    std::vector<stored_event> kept_events;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& m = batch[i];
      auto it = tokens.find(m.id);
      if (it == tokens.end()) {
        out.push_back(recorded::finished);  // removed meanwhile (queue remove)
        continue;
      }
      if (it->second != m.lease_token) {
        out.push_back(recorded::lost);
        continue;
      }
      rs.add(m);
      const bool open = std::any_of(m.recipients.begin(), m.recipients.end(), [](auto& q) { return pending(q.status); });
      if (open) {
        auto d = due_of(m);
        open_ids.push_back(m.id);
        open_due.push_back(d.next_due);
        open_retried.push_back(d.retried ? "t" : "f");
      } else {
        done_ids.push_back(m.id);
      }
      out.push_back(open ? recorded::open : recorded::finished);
      if (i < events.size()) kept_events.insert(kept_events.end(), events[i].begin(), events[i].end());
    }
    if (!rs.message_id.empty())
      c.exec(
          "UPDATE recipients r SET status = u.status, attempts = u.attempts, next_attempt = u.next_attempt, "
          "last_response = u.last_response, delay_warned = u.delay_warned FROM unnest($1::text[], $2::int[], "
          "$3::int[], $4::int[], $5::bigint[], $6::text[], $7::bigint[]) AS u(message_id, idx, status, attempts, "
          "next_attempt, last_response, delay_warned) WHERE r.message_id = u.message_id AND r.idx = u.idx",
          array_literal(rs.message_id), array_literal(rs.idx), array_literal(rs.status), array_literal(rs.attempts),
          array_literal(rs.next_attempt), array_literal(rs.last_response), array_literal(rs.delay_warned));
    if (!open_ids.empty())
      c.exec(
          "UPDATE messages m SET lease_until = 0, lease_node = '', next_due = u.next_due, retried = u.retried "
          "FROM unnest($1::text[], $2::bigint[], $3::boolean[]) AS u(id, next_due, retried) WHERE m.id = u.id",
          array_literal(open_ids), array_literal(open_due), array_literal(open_retried));
    if (!done_ids.empty()) c.exec("DELETE FROM messages WHERE id = ANY($1::text[])", array_literal(done_ids));
    append_events(c, kept_events);
    tx.commit();
    return out;
  });
}

void pg_queue_store::release_leases() {
  db_->with([&](connection& c) {
    c.exec("UPDATE messages SET lease_until = 0, lease_node = '' WHERE lease_node = $1", node_);
  });
}

}  // namespace smtpsd::store::postgres
