#pragma once
// A thin RAII layer over libpq: connections with statements prepared once and
// reused, a pool that reconnects a connection the server dropped, transactions,
// and numbered migrations under an advisory lock. Calls block (the worker
// pool runs them). Errors become store_error: transient unless the statement
// itself is wrong or a constraint refuses it; a full disk is storage_full.
#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/types.hpp"

namespace smtpsd::store::postgres {

// A statement that PostgreSQL refused; sqlstate says why ("23505" = unique).
class pg_error : public store_error {
 public:
  pg_error(const std::string& what, std::string sqlstate, bool transient)
      : store_error(what, transient), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// Binary data for a bytea parameter.
struct bytes {
  std::string_view data;
};

// One parameter, sent as text (or binary for bytea); nullopt is NULL.
struct param {
  std::optional<std::string> value;
  bool binary = false;
};

param to_param(std::string_view v);
inline param to_param(const std::string& v) { return to_param(std::string_view(v)); }
inline param to_param(const char* v) { return to_param(std::string_view(v)); }
param to_param(std::int64_t v);
inline param to_param(std::uint64_t v) { return to_param(static_cast<std::int64_t>(v)); }
inline param to_param(int v) { return to_param(static_cast<std::int64_t>(v)); }
inline param to_param(unsigned v) { return to_param(static_cast<std::int64_t>(v)); }
inline param to_param(long long v) { return to_param(static_cast<std::int64_t>(v)); }
param to_param(double v);
param to_param(bool v);
param to_param(bytes v);
inline param to_param(param p) { return p; }
template <class T>
param to_param(const std::optional<T>& v) {
  return v ? to_param(*v) : param{};
}

// A PostgreSQL array literal ('{"a","b",NULL}') for unnest($1::text[]):
// one statement carries a whole batch.
std::string array_literal(const std::vector<std::optional<std::string>>& items);

class result {
 public:
  explicit result(PGresult* r) : r_(r) {}
  result(result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  result(const result&) = delete;
  ~result() {
    if (r_) PQclear(r_);
  }
  int rows() const { return PQntuples(r_); }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string text(int row, int col) const { return std::string(PQgetvalue(r_, row, col), PQgetlength(r_, row, col)); }
  // The raw value: bytea's bytes in a binary result.
  std::string_view raw(int row, int col) const {
    return {PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col))};
  }
  std::int64_t int64(int row, int col) const;
  double real(int row, int col) const;
  bool boolean(int row, int col) const { return PQgetvalue(r_, row, col)[0] == 't'; }
  std::optional<std::int64_t> opt_int64(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return int64(row, col);
  }
  std::optional<double> opt_real(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return real(row, col);
  }
  // Rows an INSERT, UPDATE or DELETE changed.
  std::int64_t affected() const;

 private:
  PGresult* r_;
};

class connection {
 public:
  // Connects; throws store_error with libpq's message (not transient: a
  // wrong URL or password does not get better by waiting).
  explicit connection(const std::string& url);
  connection(const connection&) = delete;
  ~connection();

  // Prepared on first use on this connection, then reused.
  template <class... A>
  result exec(const std::string& sql, const A&... args) {
    std::vector<param> ps{to_param(args)...};
    return run(sql, ps, false);
  }
  // The same, with the result in binary (bytea as raw bytes).
  template <class... A>
  result exec_binary(const std::string& sql, const A&... args) {
    std::vector<param> ps{to_param(args)...};
    return run(sql, ps, true);
  }
  // Several statements, no parameters, nothing prepared (migrations).
  void script(const std::string& sql);
  // Lost to the server (restarted, network): the pool reconnects it.
  bool broken() const { return PQstatus(c_) != CONNECTION_OK; }
  void reconnect();

 private:
  result run(const std::string& sql, const std::vector<param>& ps, bool binary);
  [[noreturn]] void fail(PGresult* r, const std::string& sql);
  PGconn* c_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;
};

class transaction {
 public:
  explicit transaction(connection& c);  // BEGIN
  ~transaction();                       // rolls back unless committed
  void commit();

 private:
  connection& c_;
  bool done_ = false;
};

// Connections shared by the stores of one node.
class database {
 public:
  // Connects once (start-up errors name libpq's reason) and migrates.
  database(std::string url, std::size_t pool_size);

  template <class F>
  auto with(F&& f) {
    auto c = acquire();
    struct release {
      database* db;
      connection* c;
      ~release() { db->give_back(c); }
    } r{this, c};
    return f(*c);
  }
  // The schema version this build knows and the database's.
  static int known_version();
  int version();

 private:
  connection* acquire();
  void give_back(connection* c);

  std::string url_;
  std::size_t size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<connection>> all_;
  std::vector<connection*> free_;
  std::size_t opened_ = 0;
};

// Applies pending migrations in order, each in its own transaction, under a
// session advisory lock so that nodes starting together take turns; refuses a
// database whose schema is newer than this build.
void migrate(connection& c);

// Text PostgreSQL accepts (valid UTF-8, no NUL): anything else becomes '?'.
std::string clean_text(std::string_view s);

}  // namespace smtpsd::store::postgres
