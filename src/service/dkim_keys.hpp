#pragma once
// Where the DKIM keystore keeps its files: DATA_DIR/dkim on one node; with
// backend = "postgres", in the shared store, so every node signs with the
// keys that `identity add` and `rotate-dkim` made on any of them.
#include <memory>

#include "config/config.hpp"
#include "dkim/keystore.hpp"
#include "store/stores.hpp"

namespace smtpsd::service {

std::shared_ptr<dkim::key_files> dkim_files(const config::config& c, const store::stores& s);

}  // namespace smtpsd::service
