// The composition root: the only file that names concrete backends.
#include <sodium.h>

#include <cstdio>

#include "cli/cli.hpp"
#include "server/server.hpp"
#include "store/embedded/sqlite_stores.hpp"

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::fputs("smtpsd: libsodium failed to initialise\n", stderr);
    return 1;
  }
  smtpsd::cli::backends b;
  b.open_stores = [](const smtpsd::config::config& c) -> smtpsd::store::stores {
    if (c.storage.backend == "embedded") return smtpsd::store::embedded::open(c.data_dir);
    throw smtpsd::cli::failure(c.file.string() + ": storage.backend = \"" + c.storage.backend +
                               "\" is not available in this build yet");
  };
  b.serve = &smtpsd::server::serve;
  return smtpsd::cli::run(argc, argv, std::move(b));
}
