#include "store/embedded/sqlite.hpp"

#include <fmt/format.h>

#include "store/embedded/schema.hpp"
#include "store/types.hpp"

namespace smtpsd::store::embedded {

namespace {

class sqlite_error : public store_error {
 public:
  sqlite_error(const std::string& what, int code)
      : store_error(what, code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR ||
                              code == SQLITE_FULL || code == SQLITE_CANTOPEN),
        code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

[[noreturn]] void raise(sqlite3* db, int rc, std::string_view what) {
  auto msg = fmt::format("sqlite: {}: {}", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if ((rc & 0xff) == SQLITE_FULL) throw storage_full(msg);
  throw sqlite_error(msg, rc & 0xff);
}

}  // namespace

bool is_constraint_violation(const std::exception& e) {
  auto* s = dynamic_cast<const sqlite_error*>(&e);
  return s && s->code() == SQLITE_CONSTRAINT;
}

statement::~statement() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

statement& statement::bind(int i, std::int64_t v) {
  if (int rc = sqlite3_bind_int64(s_, i, v); rc != SQLITE_OK) raise(db_, rc, "bind");
  return *this;
}
statement& statement::bind(int i, double v) {
  if (int rc = sqlite3_bind_double(s_, i, v); rc != SQLITE_OK) raise(db_, rc, "bind");
  return *this;
}
statement& statement::bind(int i, std::string_view v) {
  if (int rc = sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); rc != SQLITE_OK)
    raise(db_, rc, "bind");
  return *this;
}
statement& statement::bind_static(int i, std::string_view v) {
  if (int rc = sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC); rc != SQLITE_OK)
    raise(db_, rc, "bind");
  return *this;
}
statement& statement::bind_blob(int i, std::string_view v) {
  if (int rc = sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); rc != SQLITE_OK)
    raise(db_, rc, "bind");
  return *this;
}
statement& statement::bind_null(int i) {
  if (int rc = sqlite3_bind_null(s_, i); rc != SQLITE_OK) raise(db_, rc, "bind");
  return *this;
}

bool statement::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  raise(db_, rc, sqlite3_sql(s_));
}

void statement::run() {
  while (step()) {
  }
}

std::int64_t statement::int64(int col) const { return sqlite3_column_int64(s_, col); }
double statement::real(int col) const { return sqlite3_column_double(s_, col); }
std::string statement::text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : std::string();
}
std::string statement::blob(int col) const {
  auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : std::string();
}
bool statement::is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
std::optional<std::int64_t> statement::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}
std::optional<double> statement::opt_real(int col) const {
  if (is_null(col)) return std::nullopt;
  return real(col);
}

connection::connection(const std::filesystem::path& file) {
  int rc = sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = fmt::format("sqlite: cannot open {}: {}", file.string(), db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close(db_);
    throw store_error(msg, false);
  }
  sqlite3_busy_timeout(db_, 10000);
  // WAL lets readers go on while a commit syncs; synchronous=FULL makes every
  // commit durable before it returns, but for relaxed transactions.
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA foreign_keys=ON");
}

connection::~connection() {
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

statement connection::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr); rc != SQLITE_OK)
      raise(db_, rc, sql);
    it = cache_.emplace(sql, s).first;
  }
  return statement(db_, it->second);
}

void connection::exec(const char* sql) {
  char* err = nullptr;
  if (int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err); rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if ((rc & 0xff) == SQLITE_FULL) throw storage_full("sqlite: " + msg);
    throw sqlite_error(fmt::format("sqlite: {}: {}", sql, msg), rc & 0xff);
  }
}

transaction::transaction(connection& c, durability d) : c_(c), relaxed_(d == durability::relaxed) {
  if (relaxed_) c_.exec("PRAGMA synchronous=NORMAL");
  try {
    c_.exec("BEGIN IMMEDIATE");
  } catch (...) {
    restore();
    throw;
  }
}
transaction::~transaction() {
  if (!done_) sqlite3_exec(c_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
  restore();
}
void transaction::commit() {
  c_.exec("COMMIT");
  done_ = true;
}
void transaction::restore() {
  if (relaxed_) sqlite3_exec(c_.raw(), "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  relaxed_ = false;
}

database::database(const std::filesystem::path& file, std::size_t readers) {
  writer_ = std::make_unique<connection>(file);
  migrate(*writer_);
  for (std::size_t i = 0; i < std::max<std::size_t>(1, readers); ++i) {
    all_.push_back(std::make_unique<connection>(file));
    free_.push_back(all_.back().get());
  }
}

connection* database::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !free_.empty(); });
  auto* c = free_.back();
  free_.pop_back();
  return c;
}

void database::give_back(connection* c) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(c);
  }
  cv_.notify_one();
}

void database::migrate(connection& c) {
  auto read_version = [&c] {
    auto s = c.prepare("PRAGMA user_version");
    s.step();
    return static_cast<std::size_t>(s.int64(0));
  };
  const auto& steps = migrations();
  // Up to date: nothing is written (the CLI must open a store on a full disk).
  if (read_version() == steps.size()) return;
  transaction t(c);
  auto version = read_version();
  if (version > steps.size())
    throw store_error(fmt::format("the store has schema version {}, newer than this smtpsd ({}); upgrade smtpsd",
                                  version, steps.size()),
                      false);
  for (std::size_t v = version; v < steps.size(); ++v) c.exec(steps[v]);
  c.exec(fmt::format("PRAGMA user_version={}", steps.size()).c_str());
  t.commit();
}

}  // namespace smtpsd::store::embedded
