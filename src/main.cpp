// The composition root: the only file that names concrete backends.
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <cstdio>

#include "base/malloc_tuning.hpp"
#include "cli/cli.hpp"
#include "net/tls.hpp"
#include "server/server.hpp"
#include "store/embedded/sqlite_stores.hpp"
#include "store/postgres/pg_stores.hpp"
#include "store/redis/redis_counters.hpp"

namespace {

std::string node_name(const smtpsd::config::config& c) {
  if (!c.storage.node.empty()) return c.storage.node;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !host[0]) return "smtpsd";
  return host;
}

smtpsd::store::stores open_stores(const smtpsd::config::config& c) {
  using smtpsd::cli::failure;
  smtpsd::store::stores s;
  try {
    if (c.storage.backend == "postgres") {
      // The node's own files (events journal, DKIM keys) still live in data_dir.
      std::error_code ec;
      std::filesystem::create_directories(c.data_dir, ec);
      if (ec) throw failure(c.file.string() + ": data_dir: cannot create " + c.data_dir.string() + ": " + ec.message());
      ::chmod(c.data_dir.c_str(), 0700);
    }
    s = c.storage.backend == "postgres" ? smtpsd::store::postgres::open(c.storage.postgres_url, node_name(c))
                                        : smtpsd::store::embedded::open(c.data_dir);
  } catch (const smtpsd::store::store_error& e) {
    throw failure(c.file.string() + ": storage." + (c.storage.backend == "postgres" ? "postgres_url" : "backend") +
                  ": " + e.what());
  }
  if (!c.storage.redis_url.empty()) {
    auto a = smtpsd::store::redis::parse_redis_url(c.storage.redis_url);
    if (!a) throw failure(c.file.string() + ": storage.redis_url: not a redis://[:password@]host[:port][/db] URL");
    try {
      s.shared_counters = std::make_shared<smtpsd::store::redis::redis_counters>(*a);
    } catch (const smtpsd::store::store_error& e) {
      throw failure(c.file.string() + ": storage.redis_url: " + e.what());
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  smtpsd::net::openssl_buffers_from_block_cache();  // before anything uses OpenSSL
  if (sodium_init() < 0) {
    std::fputs("smtpsd: libsodium failed to initialise\n", stderr);
    return 1;
  }
  smtpsd::cli::backends b;
  b.open_stores = &open_stores;
  b.serve = &smtpsd::server::serve;
  b.before_serve = [argv] { smtpsd::base::reexec_with_malloc_tunables(argv); };
  return smtpsd::cli::run(argc, argv, std::move(b));
}
