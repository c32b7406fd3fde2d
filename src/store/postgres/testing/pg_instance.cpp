#include "store/postgres/testing/pg_instance.hpp"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "store/postgres/pg.hpp"

namespace smtpsd::store::postgres::testing {

namespace {

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(s);
    throw std::runtime_error("no free port");
  }
  ::close(s);
  return ntohs(a.sin_port);
}

std::string find_bin() {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (auto& d : fs::directory_iterator("/usr/lib/postgresql", ec))
    if (fs::exists(d.path() / "bin" / "initdb")) return (d.path() / "bin").string();
  throw std::runtime_error("initdb not found under /usr/lib/postgresql: install postgresql (make test-deps)");
}

void run(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

}  // namespace

pg_instance::pg_instance() : bin_(find_bin()) {
  char tmpl[] = "/tmp/smtpsd-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  if (::geteuid() == 0) {
    auto* pw = ::getpwnam("postgres");
    if (!pw) throw std::runtime_error("running as root and no `postgres` user to run PostgreSQL as");
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown " + dir_);
    run_as_ = "runuser -u postgres -- ";
  }
  port_ = free_port();
  run(fmt::format("{}{}/initdb -D {}/data -A trust -U smtpsd -E UTF8 --locale=C.UTF-8 --no-sync >{}/initdb.log 2>&1",
                  run_as_, bin_, dir_, dir_));
  run(fmt::format("{}{}/pg_ctl -D {}/data -w -t 60 -l {}/server.log -o \"-p {} -k {} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c max_connections=200\" start >/dev/null",
                  run_as_, bin_, dir_, dir_, port_, dir_));
}

pg_instance::~pg_instance() {
  (void)std::system(fmt::format("{}{}/pg_ctl -D {}/data -m immediate -w stop >/dev/null 2>&1", run_as_, bin_, dir_).c_str());
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string pg_instance::url(const std::string& name) const {
  return fmt::format("postgresql://smtpsd@127.0.0.1:{}/{}", port_, name);
}

std::string pg_instance::database(const std::string& name) {
  connection c(url());
  if (c.exec("SELECT 1 FROM pg_database WHERE datname = $1", name).rows() == 0) c.script("CREATE DATABASE " + name);
  return url(name);
}

pg_instance& pg_instance::shared() {
  // Stopped by the destructor at exit.
  static pg_instance instance;
  return instance;
}

}  // namespace smtpsd::store::postgres::testing
