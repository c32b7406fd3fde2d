#include "base/random.hpp"
#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "store/embedded/sqlite_stores.hpp"

namespace smtpsd::store::embedded {

namespace {


account read_account(const statement& s, int base = 0) {
  account a;
  a.id = s.int64(base + 0);
  a.name = s.text(base + 1);
  a.max_send_rate = s.opt_real(base + 2);
  if (auto v = s.opt_int64(base + 3)) a.max_24h = static_cast<std::uint64_t>(*v);
  if (auto v = s.opt_int64(base + 4)) a.max_message_bytes = static_cast<std::uint64_t>(*v);
  a.suspended = s.int64(base + 5) != 0;
  a.created = base::from_unix_seconds(s.int64(base + 6));
  a.configuration_set = s.text(base + 7);
  a.sandbox = s.int64(base + 8) != 0;
  a.allowed_recipients = decode_lines(s.text(base + 9));
  a.paused = s.text(base + 10);
  a.reputation_warning = s.text(base + 11);
  a.reputation_since = base::from_unix_seconds(s.int64(base + 12));
  return a;
}

#define ACCOUNT_COLUMNS(p)                                                                                       \
  p "id, " p "name, " p "max_send_rate, " p "max_24h, " p "max_message_bytes, " p "suspended, " p "created, " p \
    "configuration_set, " p "sandbox, " p "allowed_recipients, " p "paused, " p "reputation_warning, " p           \
    "reputation_since"


credential read_credential(const statement& s) {
  credential c;
  c.id = s.int64(0);
  c.username = s.text(1);
  c.account_id = s.int64(2);
  c.hash = s.text(3);
  c.created = base::from_unix_seconds(s.int64(4));
  c.scram = s.text(5);
  return c;
}

void bump_generation(connection& c) { c.prepare("UPDATE meta SET value = value + 1 WHERE key = 'generation'").run(); }

std::optional<account> find(connection& c, std::string_view name) {
  auto s = c.prepare("SELECT " ACCOUNT_COLUMNS("") " FROM accounts WHERE name = ?");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return read_account(s);
}

}  // namespace

std::optional<account> sqlite_account_store::create_account(const account& a) {
  return db_->write([&](connection& c) -> std::optional<account> {
    transaction t(c);
    if (find(c, a.name)) return std::nullopt;
    c.prepare("INSERT INTO accounts(name, max_send_rate, max_24h, max_message_bytes, suspended, created, configuration_set, "
              "sandbox, allowed_recipients, paused, reputation_warning, reputation_since) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")
        .bind(1, a.name)
        .bind(2, a.max_send_rate)
        .bind(3, a.max_24h)
        .bind(4, a.max_message_bytes)
        .bind(5, a.suspended ? 1 : 0)
        .bind(6, base::unix_seconds(a.created))
        .bind(7, a.configuration_set)
        .bind(8, a.sandbox ? 1 : 0)
        .bind(9, encode_lines(a.allowed_recipients))
        .bind(10, a.paused)
        .bind(11, a.reputation_warning)
        .bind(12, base::unix_seconds(a.reputation_since))
        .run();
    account out = a;
    out.id = c.last_insert_id();
    commit_change(t, c);
    return out;
  });
}

std::optional<account> sqlite_account_store::find_account(std::string_view name) {
  return db_->with([&](connection& c) { return find(c, name); });
}

std::optional<account> sqlite_account_store::find_account(std::int64_t id) {
  return db_->with([&](connection& c) -> std::optional<account> {
    auto s = c.prepare("SELECT " ACCOUNT_COLUMNS("") " FROM accounts WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_account(s);
  });
}

std::vector<account> sqlite_account_store::list_accounts() {
  return db_->with([&](connection& c) {
    std::vector<account> out;
    auto s = c.prepare("SELECT " ACCOUNT_COLUMNS("") " FROM accounts ORDER BY name");
    while (s.step()) out.push_back(read_account(s));
    return out;
  });
}

bool sqlite_account_store::update_account(const account& a) {
  return db_->write([&](connection& c) {
    transaction t(c);
    c.prepare("UPDATE accounts SET max_send_rate = ?, max_24h = ?, max_message_bytes = ?, suspended = ?, "
              "configuration_set = ?, sandbox = ?, allowed_recipients = ?, paused = ?, reputation_warning = ?, "
              "reputation_since = ? WHERE id = ?")
        .bind(1, a.max_send_rate)
        .bind(2, a.max_24h)
        .bind(3, a.max_message_bytes)
        .bind(4, a.suspended ? 1 : 0)
        .bind(5, a.configuration_set)
        .bind(6, a.sandbox ? 1 : 0)
        .bind(7, encode_lines(a.allowed_recipients))
        .bind(8, a.paused)
        .bind(9, a.reputation_warning)
        .bind(10, base::unix_seconds(a.reputation_since))
        .bind(11, a.id)
        .run();
    bool changed = c.changes() > 0;
    commit_change(t, c);
    return changed;
  });
}

bool sqlite_account_store::remove_account(std::string_view name) {
  return db_->write([&](connection& c) {
    transaction t(c);
    c.prepare("DELETE FROM accounts WHERE name = ?").bind(1, name).run();
    bool changed = c.changes() > 0;
    commit_change(t, c);
    return changed;
  });
}

std::optional<credential> sqlite_account_store::create_credential(std::int64_t account_id, std::string_view username,
                                                                  std::string_view hash,
                                                                  std::string_view scram) {
  return db_->write([&](connection& c) -> std::optional<credential> {
    transaction t(c);
    auto exists = c.prepare("SELECT 1 FROM credentials WHERE username = ?");
    exists.bind(1, username);
    if (exists.step()) return std::nullopt;
    auto now = base::real_clock().now();
    c.prepare("INSERT INTO credentials(account_id, username, hash, created, scram) VALUES (?,?,?,?,?)")
        .bind(1, account_id)
        .bind(2, username)
        .bind(3, hash)
        .bind(4, base::unix_seconds(now))
        .bind(5, scram)
        .run();
    credential cr{c.last_insert_id(), std::string(username), account_id, std::string(hash), std::string(scram),
                  base::from_unix_seconds(base::unix_seconds(now))};
    commit_change(t, c);
    return cr;
  });
}

std::optional<login> sqlite_account_store::find_login(std::string_view username) {
  return db_->with([&](connection& c) -> std::optional<login> {
    auto s = c.prepare(
        "SELECT c.id, c.username, c.account_id, c.hash, c.created, c.scram, "
         ACCOUNT_COLUMNS("a.") " FROM credentials c JOIN accounts a ON a.id = c.account_id WHERE c.username = ?");
    s.bind(1, username);
    if (!s.step()) return std::nullopt;
    return login{read_credential(s), read_account(s, 6)};
  });
}

std::vector<credential> sqlite_account_store::list_credentials(std::int64_t account_id) {
  return db_->with([&](connection& c) {
    std::vector<credential> out;
    auto s = c.prepare("SELECT id, username, account_id, hash, created, scram FROM credentials WHERE account_id = ? ORDER BY username");
    s.bind(1, account_id);
    while (s.step()) out.push_back(read_credential(s));
    return out;
  });
}

bool sqlite_account_store::revoke_credential(std::string_view username) {
  return db_->write([&](connection& c) {
    transaction t(c);
    c.prepare("DELETE FROM credentials WHERE username = ?").bind(1, username).run();
    bool changed = c.changes() > 0;
    commit_change(t, c);
    return changed;
  });
}

std::optional<identity> sqlite_account_store::add_identity(std::int64_t account_id, std::string_view value,
                                                          identity_kind kind) {
  return db_->write([&](connection& c) -> std::optional<identity> {
    transaction t(c);
    auto exists = c.prepare("SELECT 1 FROM identities WHERE account_id = ? AND value = ?");
    exists.bind(1, account_id).bind(2, value);
    if (exists.step()) return std::nullopt;
    auto now = base::unix_seconds(base::real_clock().now());
    c.prepare("INSERT INTO identities(account_id, value, kind, created) VALUES (?,?,?,?)")
        .bind(1, account_id)
        .bind(2, value)
        .bind(3, static_cast<int>(kind))
        .bind(4, now)
        .run();
    identity i{c.last_insert_id(), account_id, std::string(value), kind, base::from_unix_seconds(now)};
    commit_change(t, c);
    return i;
  });
}

std::vector<identity> sqlite_account_store::list_identities(std::int64_t account_id) {
  return db_->with([&](connection& c) {
    std::vector<identity> out;
    auto s = c.prepare("SELECT id, account_id, value, kind, created FROM identities WHERE account_id = ? ORDER BY value");
    s.bind(1, account_id);
    while (s.step())
      out.push_back({s.int64(0), s.int64(1), s.text(2), static_cast<identity_kind>(s.int64(3)),
                     base::from_unix_seconds(s.int64(4))});
    return out;
  });
}

bool sqlite_account_store::remove_identity(std::int64_t account_id, std::string_view value) {
  return db_->write([&](connection& c) {
    transaction t(c);
    c.prepare("DELETE FROM identities WHERE account_id = ? AND value = ?").bind(1, account_id).bind(2, value).run();
    bool changed = c.changes() > 0;
    commit_change(t, c);
    return changed;
  });
}

bool sqlite_account_store::create_token(const api_token& tk) {
  return db_->write([&](connection& c) {
    transaction t(c);
    auto s = c.prepare("SELECT 1 FROM api_tokens WHERE name = ?");
    s.bind(1, tk.name);
    if (s.step()) return false;
    c.prepare("INSERT INTO api_tokens(name, hash, read_only, created) VALUES (?,?,?,?)")
        .bind(1, tk.name)
        .bind(2, tk.hash)
        .bind(3, tk.read_only ? 1 : 0)
        .bind(4, base::unix_seconds(tk.created))
        .run();
    commit_change(t, c);
    return true;
  });
}

std::optional<api_token> sqlite_account_store::find_token(std::string_view hash) {
  return db_->with([&](connection& c) -> std::optional<api_token> {
    auto s = c.prepare("SELECT name, hash, read_only, created FROM api_tokens WHERE hash = ?");
    s.bind(1, hash);
    if (!s.step()) return std::nullopt;
    return api_token{s.text(0), s.text(1), s.int64(2) != 0, base::from_unix_seconds(s.int64(3))};
  });
}

std::vector<api_token> sqlite_account_store::list_tokens() {
  return db_->with([&](connection& c) {
    std::vector<api_token> out;
    auto s = c.prepare("SELECT name, hash, read_only, created FROM api_tokens ORDER BY name");
    while (s.step()) out.push_back({s.text(0), s.text(1), s.int64(2) != 0, base::from_unix_seconds(s.int64(3))});
    return out;
  });
}

bool sqlite_account_store::revoke_token(std::string_view name) {
  return db_->write([&](connection& c) {
    transaction t(c);
    c.prepare("DELETE FROM api_tokens WHERE name = ?").bind(1, name).run();
    const bool gone = c.changes() > 0;
    commit_change(t, c);
    return gone;
  });
}

void sqlite_account_store::commit_change(transaction& t, connection& c) {
  bump_generation(c);
  t.commit();
  changes_->bump();
}

std::uint64_t sqlite_account_store::generation() {
  return db_->with([&](connection& c) {
    auto s = c.prepare("SELECT value FROM meta WHERE key = 'generation'");
    s.step();
    return static_cast<std::uint64_t>(s.int64(0));
  });
}

std::string sqlite_account_store::installation_secret() {
  return db_->write([&](connection& c) {
    const auto fresh = base::random_bytes(32);
    c.prepare("INSERT INTO secrets(name, value) VALUES ('installation', ?) ON CONFLICT(name) DO NOTHING")
        .bind_blob(1, fresh)
        .run();
    auto s = c.prepare("SELECT value FROM secrets WHERE name = 'installation'");
    s.step();
    return s.blob(0);
  });
}

void sqlite_account_store::add_reputation(std::span<const reputation_delta> deltas) {
  db_->write([&](connection& c) {
    transaction t(c);
    for (auto& d : deltas)
      c.prepare("INSERT INTO reputation(account_id, hour, recipients, bounces, complaints) VALUES (?,?,?,?,?) "
                "ON CONFLICT(account_id, hour) DO UPDATE SET recipients = recipients + excluded.recipients, "
                "bounces = bounces + excluded.bounces, complaints = complaints + excluded.complaints")
          .bind(1, d.account_id)
          .bind(2, base::unix_seconds(d.counts.hour))
          .bind(3, static_cast<std::int64_t>(d.counts.recipients))
          .bind(4, static_cast<std::int64_t>(d.counts.bounces))
          .bind(5, static_cast<std::int64_t>(d.counts.complaints))
          .run();
    t.commit();
  });
}

std::vector<reputation_bucket> sqlite_account_store::reputation(std::int64_t account_id, time_point since) {
  return db_->with([&](connection& c) {
    std::vector<reputation_bucket> out;
    auto s = c.prepare("SELECT hour, recipients, bounces, complaints FROM reputation WHERE account_id = ? AND hour >= ? "
                       "ORDER BY hour DESC");
    s.bind(1, account_id).bind(2, base::unix_seconds(since));
    while (s.step())
      out.push_back({base::from_unix_seconds(s.int64(0)), static_cast<std::uint64_t>(s.int64(1)),
                     static_cast<std::uint64_t>(s.int64(2)), static_cast<std::uint64_t>(s.int64(3))});
    return out;
  });
}

std::optional<std::string> sqlite_account_store::read_shared_file(std::string_view path) {
  return db_->with([&](connection& c) -> std::optional<std::string> {
    auto s = c.prepare("SELECT data FROM shared_files WHERE path = ?");
    s.bind(1, path);
    if (!s.step()) return std::nullopt;
    return s.blob(0);
  });
}

void sqlite_account_store::write_shared_file(std::string_view path, std::string_view data) {
  db_->write([&](connection& c) {
    transaction t(c);
    c.prepare("INSERT INTO shared_files(path, data) VALUES (?, ?) ON CONFLICT(path) DO UPDATE SET data = excluded.data")
        .bind(1, path)
        .bind_blob(2, data)
        .run();
    commit_change(t, c);
  });
}

void sqlite_account_store::remove_shared_file(std::string_view path) {
  db_->write([&](connection& c) {
    transaction t(c);
    c.prepare("DELETE FROM shared_files WHERE path = ?").bind(1, path).run();
    commit_change(t, c);
  });
}

std::vector<std::string> sqlite_account_store::shared_files(std::string_view suffix) {
  return db_->with([&](connection& c) {
    std::vector<std::string> out;
    auto s = c.prepare("SELECT path FROM shared_files ORDER BY path");
    while (s.step())
      if (auto p = s.text(0); std::string_view(p).ends_with(suffix)) out.push_back(std::move(p));
    return out;
  });
}

}  // namespace smtpsd::store::embedded
