#pragma once
// A thin RAII layer over SQLite: connections with cached statements, one
// writer connection and a small pool of readers that never wait behind it
// (WAL), and versioned migrations. Errors become store_error.
#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace smtpsd::store::embedded {

class statement {
 public:
  statement(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  statement(const statement&) = delete;
  ~statement();  // resets and clears bindings; the connection owns the statement

  statement& bind(int i, std::int64_t v);
  statement& bind(int i, std::uint64_t v) { return bind(i, static_cast<std::int64_t>(v)); }
  statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  statement& bind(int i, unsigned v) { return bind(i, static_cast<std::int64_t>(v)); }
  statement& bind(int i, double v);
  statement& bind(int i, std::string_view v);
  statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  // Without SQLite's copy of the text: v must stay valid until this
  // statement object is gone (its destructor clears the bindings), as the
  // members of a batch a store method was handed do. For the per-message
  // inserts of the queue, where the copies cost about 8,000 instructions a
  // message (a malloc, a copy and a free for each of some 19 texts).
  statement& bind_static(int i, std::string_view v);
  statement& bind_null(int i);
  statement& bind_blob(int i, std::string_view v);
  template <class T>
  statement& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  bool step();  // true: a row is ready
  void run();   // steps to the end
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::string blob(int col) const;
  bool is_null(int col) const;
  std::optional<std::int64_t> opt_int64(int col) const;
  std::optional<double> opt_real(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

class connection {
 public:
  explicit connection(const std::filesystem::path& file);
  connection(const connection&) = delete;
  ~connection();

  // Prepared once per connection and reused.
  // sql must be a string literal: statements are cached by its address.
  statement prepare(const char* sql);
  void exec(const char* sql);
  std::int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// Whether a transaction's commit waits for the disk (synchronous=FULL), or
// may be lost to a power cut because nothing depends on it or something else
// restores it: delivery leases, which start-up releases anyway, and queued
// messages whose spool records carry their rows (start-up replays them).
// The next durable commit's sync covers a relaxed one's frames too.
enum class durability { full, relaxed };

class transaction {
 public:
  explicit transaction(connection& c, durability d = durability::full);  // BEGIN IMMEDIATE
  ~transaction();                                                       // rolls back unless committed
  void commit();

 private:
  void restore();
  connection& c_;
  bool relaxed_ = false;
  bool done_ = false;
};

class database {
 public:
  // Opens (creating) the file and applies pending migrations: one writer
  // connection and `readers` more.
  database(const std::filesystem::path& file, std::size_t readers);

  // Everything that writes goes through the one writer connection, in turn.
  // Its page cache stays valid from one transaction to the next (SQLite
  // drops a connection's whole cache when another connection has written),
  // and writers queue on a mutex instead of SQLite's busy handler, which
  // sleeps a millisecond or more between tries.
  template <class F>
  auto write(F&& f) {
    std::lock_guard lock(writer_mu_);
    return f(*writer_);
  }

  // Reads: any free reader connection.
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

 private:
  connection* acquire();
  void give_back(connection* c);
  void migrate(connection& c);

  std::mutex writer_mu_;
  std::unique_ptr<connection> writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<connection>> all_;
  std::vector<connection*> free_;
};

bool is_constraint_violation(const std::exception& e);

}  // namespace smtpsd::store::embedded
