#pragma once
// Tests only: a private PostgreSQL server (Debian's initdb and pg_ctl) in a
// temporary folder, on a free loopback port, stopped and removed at the end.
// Started as the `postgres` system user when running as root (initdb refuses
// root). Each call of fresh_database() gives a new, empty database.
#include <string>

namespace smtpsd::store::postgres::testing {

class pg_instance {
 public:
  pg_instance();  // throws std::runtime_error naming what failed
  ~pg_instance();
  pg_instance(const pg_instance&) = delete;

  // A libpq URL of database `name` on this server.
  std::string url(const std::string& name = "postgres") const;
  // Creates database `name` if absent and returns its URL.
  std::string database(const std::string& name);

  // One server for the whole test binary, started on first use.
  static pg_instance& shared();

 private:
  std::string dir_, bin_, run_as_;
  int port_ = 0;
};

}  // namespace smtpsd::store::postgres::testing
