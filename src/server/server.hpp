#pragma once
// `smtpsd serve`: one io_context per core, each with its own acceptor on every
// listener address (SO_REUSEPORT), a worker pool for blocking work, the group
// committer, and signal handling (SIGTERM/SIGINT drain and stop, SIGHUP reload).
#include <memory>

#include "config/config.hpp"
#include "store/stores.hpp"

namespace smtpsd::server {

// Runs until SIGTERM or SIGINT; returns the process exit status.
int serve(const config::config& cfg, store::stores stores);

}  // namespace smtpsd::server
