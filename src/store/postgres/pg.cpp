#include "store/postgres/pg.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>

#include "base/strings.hpp"
#include "store/postgres/schema.hpp"

namespace smtpsd::store::postgres {

namespace {

// Any constant works as long as every node uses the same one.
constexpr std::int64_t migration_lock = 0x736d747073640001;  // "smtpsd" 1

std::string trimmed(const char* s) {
  std::string m = s ? s : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

param to_param(std::string_view v) { return param{std::string(v), false}; }
param to_param(std::int64_t v) { return param{std::to_string(v), false}; }
param to_param(double v) { return param{fmt::format("{}", v), false}; }
param to_param(bool v) { return param{v ? "t" : "f", false}; }
param to_param(bytes v) { return param{std::string(v.data), true}; }

std::string array_literal(const std::vector<std::optional<std::string>>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    if (!items[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char ch : *items[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::int64_t result::int64(int row, int col) const {
  const char* v = PQgetvalue(r_, row, col);
  std::int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r_, row, col), out);
  return out;
}

double result::real(int row, int col) const { return std::strtod(PQgetvalue(r_, row, col), nullptr); }

std::int64_t result::affected() const {
  const char* n = PQcmdTuples(r_);
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

connection::connection(const std::string& url) {
  c_ = PQconnectdb(url.c_str());
  if (PQstatus(c_) != CONNECTION_OK) {
    std::string why = trimmed(PQerrorMessage(c_));
    PQfinish(c_);
    c_ = nullptr;
    throw store_error("cannot connect to PostgreSQL: " + why, false);
  }
  PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);
  script("SET bytea_output = 'hex'");
}

connection::~connection() {
  if (c_) PQfinish(c_);
}

void connection::reconnect() {
  prepared_.clear();
  PQreset(c_);
  if (PQstatus(c_) != CONNECTION_OK) throw store_error("PostgreSQL unreachable: " + trimmed(PQerrorMessage(c_)), true);
  script("SET bytea_output = 'hex'");
}

void connection::fail(PGresult* r, const std::string& sql) {
  std::string state = r ? trimmed(PQresultErrorField(r, PG_DIAG_SQLSTATE)) : "";
  std::string why = r ? trimmed(PQresultErrorMessage(r)) : "";
  if (why.empty()) why = trimmed(PQerrorMessage(c_));
  if (r) PQclear(r);
  const std::string what = fmt::format("PostgreSQL: {} ({})", why, sql.substr(0, sql.find(' ', 20)));
  if (state == "53100") throw storage_full(what);
  const std::string cls = state.substr(0, 2);
  // 22 data, 23 constraints, 42 syntax or access: the same statement fails again.
  const bool transient = !(cls == "22" || cls == "23" || cls == "42");
  throw pg_error(what, state, transient);
}

result connection::run(const std::string& sql, const std::vector<param>& ps, bool binary) {
  std::vector<const char*> values(ps.size());
  std::vector<int> lengths(ps.size()), formats(ps.size());
  for (std::size_t i = 0; i < ps.size(); ++i) {
    values[i] = ps[i].value ? ps[i].value->data() : nullptr;
    lengths[i] = ps[i].value ? static_cast<int>(ps[i].value->size()) : 0;
    formats[i] = ps[i].binary ? 1 : 0;
  }
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size());
    PGresult* r = PQprepare(c_, name.c_str(), sql.c_str(), static_cast<int>(ps.size()), nullptr);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) fail(r, sql);
    PQclear(r);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  PGresult* r = PQexecPrepared(c_, it->second.c_str(), static_cast<int>(ps.size()), values.data(), lengths.data(),
                               formats.data(), binary ? 1 : 0);
  const auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(r, sql);
  return result(r);
}

void connection::script(const std::string& sql) {
  PGresult* r = PQexec(c_, sql.c_str());
  const auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(r, sql);
  PQclear(r);
}

transaction::transaction(connection& c) : c_(c) { c_.script("BEGIN"); }

transaction::~transaction() {
  if (done_ || c_.broken()) return;
  try {
    c_.script("ROLLBACK");
  } catch (...) {
  }
}

void transaction::commit() {
  c_.script("COMMIT");
  done_ = true;
}

database::database(std::string url, std::size_t pool_size) : url_(std::move(url)), size_(pool_size) {
  auto first = std::make_unique<connection>(url_);
  migrate(*first);
  free_.push_back(first.get());
  all_.push_back(std::move(first));
  opened_ = 1;
}

connection* database::acquire() {
  connection* c = nullptr;
  {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return !free_.empty() || opened_ < size_; });
    if (!free_.empty()) {
      c = free_.back();
      free_.pop_back();
    } else {
      ++opened_;  // this thread opens one more
    }
  }
  if (!c) {
    std::unique_ptr<connection> fresh;
    try {
      fresh = std::make_unique<connection>(url_);
    } catch (const store_error& e) {
      {
        std::lock_guard l(mu_);
        --opened_;
      }
      cv_.notify_one();
      throw store_error(e.what(), true);  // it worked at start-up: the server is away for now
    }
    std::lock_guard l(mu_);
    c = fresh.get();
    all_.push_back(std::move(fresh));
    return c;
  }
  if (c->broken()) {
    try {
      c->reconnect();
    } catch (...) {
      give_back(c);
      throw;
    }
  }
  return c;
}

void database::give_back(connection* c) {
  {
    std::lock_guard l(mu_);
    free_.push_back(c);
  }
  cv_.notify_one();
}

int database::known_version() { return static_cast<int>(migrations().size()); }

int database::version() {
  return with([](connection& c) {
    auto r = c.exec("SELECT max(version) FROM schema_version");
    return static_cast<int>(r.opt_int64(0, 0).value_or(0));
  });
}

void migrate(connection& c) {
  c.exec("SELECT pg_advisory_lock($1)", migration_lock);
  struct unlock {
    connection& c;
    ~unlock() {
      try {
        c.exec("SELECT pg_advisory_unlock($1)", migration_lock);
      } catch (...) {
      }
    }
  } u{c};
  c.script("CREATE TABLE IF NOT EXISTS schema_version(version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())");
  auto r = c.exec("SELECT coalesce(max(version), 0) FROM schema_version");
  const auto have = static_cast<std::size_t>(r.int64(0, 0));
  const auto& m = migrations();
  if (have > m.size())
    throw store_error(fmt::format("the PostgreSQL schema is at version {}, newer than this smtpsd knows ({}): "
                                  "run the newer smtpsd, or restore a matching backup",
                                  have, m.size()),
                      false);
  for (std::size_t v = have; v < m.size(); ++v) {
    transaction t(c);
    c.script(m[v]);
    c.exec("INSERT INTO schema_version(version) VALUES ($1)", static_cast<std::int64_t>(v + 1));
    t.commit();
  }
}

std::string clean_text(std::string_view s) {
  if (base::valid_utf8(s) && s.find('\0') == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto n = base::utf8_sequence(s, i);
    if (n == 0 || s[i] == '\0') {
      out += '?';
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace smtpsd::store::postgres
