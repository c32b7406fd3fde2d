#include "base/random.hpp"
#include "base/time_format.hpp"
#include "store/postgres/pg_stores.hpp"

namespace smtpsd::store::postgres {

namespace {

std::string columns(std::string_view prefix) {
  std::string out;
  for (const char* c : {"id", "name", "max_send_rate", "max_24h", "max_message_bytes", "suspended", "created",
                        "configuration_set", "sandbox", "allowed_recipients", "paused", "reputation_warning",
                        "reputation_since"}) {
    if (!out.empty()) out += ", ";
    out.append(prefix).append(c);
  }
  return out;
}
const std::string account_columns = columns("");

account read_account(const result& r, int row, int base = 0) {
  account a;
  a.id = r.int64(row, base + 0);
  a.name = r.text(row, base + 1);
  a.max_send_rate = r.opt_real(row, base + 2);
  if (auto v = r.opt_int64(row, base + 3)) a.max_24h = static_cast<std::uint64_t>(*v);
  if (auto v = r.opt_int64(row, base + 4)) a.max_message_bytes = static_cast<std::uint64_t>(*v);
  a.suspended = r.boolean(row, base + 5);
  a.created = base::from_unix_seconds(r.int64(row, base + 6));
  a.configuration_set = r.text(row, base + 7);
  a.sandbox = r.boolean(row, base + 8);
  a.allowed_recipients = decode_lines(r.text(row, base + 9));
  a.paused = r.text(row, base + 10);
  a.reputation_warning = r.text(row, base + 11);
  a.reputation_since = base::from_unix_seconds(r.int64(row, base + 12));
  return a;
}

credential read_credential(const result& r, int row) {
  return credential{r.int64(row, 0), r.text(row, 1), r.int64(row, 2), r.text(row, 3), r.text(row, 5),
                    base::from_unix_seconds(r.int64(row, 4))};
}

void bump_generation(connection& c) { c.exec("UPDATE meta SET value = value + 1 WHERE key = 'generation'"); }

std::optional<std::uint64_t> opt_u64(const std::optional<std::uint64_t>& v) { return v; }

}  // namespace

// Runs f in a transaction that also bumps the generation, so every node sees
// the change; this node at once.
template <class F>
auto pg_account_store::changing(F&& f) {
  auto out = db_->with([&](connection& c) {
    transaction t(c);
    auto changed = f(c);
    bump_generation(c);
    t.commit();
    return changed;
  });
  read_at_ms_.store(INT64_MIN / 2);
  return out;
}

std::optional<account> pg_account_store::create_account(const account& a) {
  return changing([&](connection& c) -> std::optional<account> {
    auto r = c.exec(
        "INSERT INTO accounts(name, max_send_rate, max_24h, max_message_bytes, suspended, created, configuration_set, "
        "sandbox, allowed_recipients, paused, reputation_warning, reputation_since) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT (name) DO NOTHING RETURNING id",
        a.name, a.max_send_rate, opt_u64(a.max_24h), opt_u64(a.max_message_bytes), a.suspended,
        base::unix_seconds(a.created), a.configuration_set, a.sandbox, encode_lines(a.allowed_recipients), a.paused,
        a.reputation_warning, base::unix_seconds(a.reputation_since));
    if (r.rows() == 0) return std::nullopt;
    account out = a;
    out.id = r.int64(0, 0);
    return out;
  });
}

std::optional<account> pg_account_store::find_account(std::string_view name) {
  return db_->with([&](connection& c) -> std::optional<account> {
    auto r = c.exec("SELECT " + account_columns + " FROM accounts WHERE name = $1", name);
    if (r.rows() == 0) return std::nullopt;
    return read_account(r, 0);
  });
}

std::optional<account> pg_account_store::find_account(std::int64_t id) {
  return db_->with([&](connection& c) -> std::optional<account> {
    auto r = c.exec("SELECT " + account_columns + " FROM accounts WHERE id = $1", id);
    if (r.rows() == 0) return std::nullopt;
    return read_account(r, 0);
  });
}

std::vector<account> pg_account_store::list_accounts() {
  return db_->with([&](connection& c) {
    auto r = c.exec("SELECT " + account_columns + " FROM accounts ORDER BY name COLLATE \"C\"");
    std::vector<account> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_account(r, i));
    return out;
  });
}

bool pg_account_store::update_account(const account& a) {
  return changing([&](connection& c) {
    return c
               .exec("UPDATE accounts SET max_send_rate = $1, max_24h = $2, max_message_bytes = $3, suspended = $4, "
                     "configuration_set = $5, sandbox = $6, allowed_recipients = $7, paused = $8, "
                     "reputation_warning = $9, reputation_since = $10 WHERE id = $11",
                     a.max_send_rate, opt_u64(a.max_24h), opt_u64(a.max_message_bytes), a.suspended,
                     a.configuration_set, a.sandbox, encode_lines(a.allowed_recipients), a.paused,
                     a.reputation_warning, base::unix_seconds(a.reputation_since), a.id)
               .affected() > 0;
  });
}

bool pg_account_store::remove_account(std::string_view name) {
  return changing([&](connection& c) { return c.exec("DELETE FROM accounts WHERE name = $1", name).affected() > 0; });
}

std::optional<credential> pg_account_store::create_credential(std::int64_t account_id, std::string_view username,
                                                              std::string_view hash, std::string_view scram) {
  const auto now = base::unix_seconds(base::real_clock().now());
  return changing([&](connection& c) -> std::optional<credential> {
    auto r = c.exec("INSERT INTO credentials(account_id, username, hash, created, scram) VALUES ($1,$2,$3,$4,$5) "
                    "ON CONFLICT (username) DO NOTHING RETURNING id",
                    account_id, username, hash, now, scram);
    if (r.rows() == 0) return std::nullopt;
    return credential{r.int64(0, 0),      std::string(username), account_id, std::string(hash), std::string(scram),
                      base::from_unix_seconds(now)};
  });
}

std::optional<login> pg_account_store::find_login(std::string_view username) {
  return db_->with([&](connection& c) -> std::optional<login> {
    auto r = c.exec(
        "SELECT c.id, c.username, c.account_id, c.hash, c.created, c.scram, " + columns("a.") +
            " FROM credentials c JOIN accounts a ON a.id = c.account_id WHERE c.username = $1",
        username);
    if (r.rows() == 0) return std::nullopt;
    return login{read_credential(r, 0), read_account(r, 0, 6)};
  });
}

std::vector<credential> pg_account_store::list_credentials(std::int64_t account_id) {
  return db_->with([&](connection& c) {
    auto r = c.exec("SELECT id, username, account_id, hash, created, scram FROM credentials WHERE account_id = $1 "
                    "ORDER BY username COLLATE \"C\"",
                    account_id);
    std::vector<credential> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_credential(r, i));
    return out;
  });
}

bool pg_account_store::revoke_credential(std::string_view username) {
  return changing(
                  [&](connection& c) { return c.exec("DELETE FROM credentials WHERE username = $1", username).affected() > 0; });
}

std::optional<identity> pg_account_store::add_identity(std::int64_t account_id, std::string_view value,
                                                       identity_kind kind) {
  const auto now = base::unix_seconds(base::real_clock().now());
  return changing([&](connection& c) -> std::optional<identity> {
    auto r = c.exec("INSERT INTO identities(account_id, value, kind, created) VALUES ($1,$2,$3,$4) "
                    "ON CONFLICT (account_id, value) DO NOTHING RETURNING id",
                    account_id, value, static_cast<int>(kind), now);
    if (r.rows() == 0) return std::nullopt;
    return identity{r.int64(0, 0), account_id, std::string(value), kind, base::from_unix_seconds(now)};
  });
}

std::vector<identity> pg_account_store::list_identities(std::int64_t account_id) {
  return db_->with([&](connection& c) {
    auto r = c.exec("SELECT id, account_id, value, kind, created FROM identities WHERE account_id = $1 "
                    "ORDER BY value COLLATE \"C\"",
                    account_id);
    std::vector<identity> out;
    for (int i = 0; i < r.rows(); ++i)
      out.push_back({r.int64(i, 0), r.int64(i, 1), r.text(i, 2), static_cast<identity_kind>(r.int64(i, 3)),
                     base::from_unix_seconds(r.int64(i, 4))});
    return out;
  });
}

bool pg_account_store::remove_identity(std::int64_t account_id, std::string_view value) {
  return changing([&](connection& c) {
    return c.exec("DELETE FROM identities WHERE account_id = $1 AND value = $2", account_id, value).affected() > 0;
  });
}

bool pg_account_store::create_token(const api_token& tk) {
  return changing([&](connection& c) {
    return c
               .exec("INSERT INTO api_tokens(name, hash, read_only, created) VALUES ($1,$2,$3,$4) "
                     "ON CONFLICT DO NOTHING",
                     tk.name, tk.hash, tk.read_only, base::unix_seconds(tk.created))
               .affected() > 0;
  });
}

std::optional<api_token> pg_account_store::find_token(std::string_view hash) {
  return db_->with([&](connection& c) -> std::optional<api_token> {
    auto r = c.exec("SELECT name, hash, read_only, created FROM api_tokens WHERE hash = $1", hash);
    if (r.rows() == 0) return std::nullopt;
    return api_token{r.text(0, 0), r.text(0, 1), r.boolean(0, 2), base::from_unix_seconds(r.int64(0, 3))};
  });
}

std::vector<api_token> pg_account_store::list_tokens() {
  return db_->with([&](connection& c) {
    auto r = c.exec("SELECT name, hash, read_only, created FROM api_tokens ORDER BY name COLLATE \"C\"");
    std::vector<api_token> out;
    for (int i = 0; i < r.rows(); ++i)
      out.push_back({r.text(i, 0), r.text(i, 1), r.boolean(i, 2), base::from_unix_seconds(r.int64(i, 3))});
    return out;
  });
}

bool pg_account_store::revoke_token(std::string_view name) {
  return changing([&](connection& c) { return c.exec("DELETE FROM api_tokens WHERE name = $1", name).affected() > 0; });
}

std::uint64_t pg_account_store::generation() {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  if (now - read_at_ms_.load() < 500) return generation_.load();
  const auto g = db_->with([](connection& c) {
    return static_cast<std::uint64_t>(c.exec("SELECT value FROM meta WHERE key = 'generation'").int64(0, 0));
  });
  generation_.store(g);
  read_at_ms_.store(now);
  return g;
}

std::string pg_account_store::installation_secret() {
  return db_->with([&](connection& c) {
    c.exec("INSERT INTO secrets(name, value) VALUES ('installation', $1) ON CONFLICT (name) DO NOTHING",
           bytes{base::random_bytes(32)});
    auto r = c.exec_binary("SELECT value FROM secrets WHERE name = 'installation'");
    return std::string(r.raw(0, 0));
  });
}

void pg_account_store::add_reputation(std::span<const reputation_delta> deltas) {
  db_->with([&](connection& c) {
    transaction t(c);
    for (auto& d : deltas)
      c.exec("INSERT INTO reputation(account_id, hour, recipients, bounces, complaints) VALUES ($1,$2,$3,$4,$5) "
             "ON CONFLICT (account_id, hour) DO UPDATE SET recipients = reputation.recipients + excluded.recipients, "
             "bounces = reputation.bounces + excluded.bounces, complaints = reputation.complaints + excluded.complaints",
             d.account_id, base::unix_seconds(d.counts.hour), static_cast<std::int64_t>(d.counts.recipients),
             static_cast<std::int64_t>(d.counts.bounces), static_cast<std::int64_t>(d.counts.complaints));
    t.commit();
  });
}

std::vector<reputation_bucket> pg_account_store::reputation(std::int64_t account_id, time_point since) {
  return db_->with([&](connection& c) {
    auto r = c.exec("SELECT hour, recipients, bounces, complaints FROM reputation WHERE account_id = $1 AND hour >= $2 "
                    "ORDER BY hour DESC",
                    account_id, base::unix_seconds(since));
    std::vector<reputation_bucket> out;
    for (int i = 0; i < r.rows(); ++i)
      out.push_back({base::from_unix_seconds(r.int64(i, 0)), static_cast<std::uint64_t>(r.int64(i, 1)),
                     static_cast<std::uint64_t>(r.int64(i, 2)), static_cast<std::uint64_t>(r.int64(i, 3))});
    return out;
  });
}

std::optional<std::string> pg_account_store::read_shared_file(std::string_view path) {
  return db_->with([&](connection& c) -> std::optional<std::string> {
    auto r = c.exec_binary("SELECT data FROM shared_files WHERE path = $1", path);
    if (r.rows() == 0) return std::nullopt;
    return std::string(r.raw(0, 0));
  });
}

void pg_account_store::write_shared_file(std::string_view path, std::string_view data) {
  changing([&](connection& c) {
    c.exec("INSERT INTO shared_files(path, data) VALUES ($1, $2) ON CONFLICT (path) DO UPDATE SET data = excluded.data",
           path, bytes{data});
    return true;
  });
}

void pg_account_store::remove_shared_file(std::string_view path) {
  changing([&](connection& c) {
    c.exec("DELETE FROM shared_files WHERE path = $1", path);
    return true;
  });
}

std::vector<std::string> pg_account_store::shared_files(std::string_view suffix) {
  return db_->with([&](connection& c) {
    auto r = c.exec("SELECT path FROM shared_files WHERE right(path, $2::int) = $1 ORDER BY path", suffix,
                    static_cast<int>(suffix.size()));
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    return out;
  });
}

}  // namespace smtpsd::store::postgres
