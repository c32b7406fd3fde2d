#pragma once
// The embedded backend's change signal (store/change_signal.hpp): eight
// octets at the start of a file in the data directory, mapped shared by every
// process that opens the store (the server, its CLI), so a count moved by one
// is read by the others with a plain load. The same need as SQLite's WAL
// index (smtpsd.db-shm): a local file system that maps files shared.
#include <filesystem>

#include "store/change_signal.hpp"

namespace smtpsd::store::embedded {

class mapped_change_signal final : public change_signal {
 public:
  // Creates the file (mode 0600) when absent; throws store_error naming it.
  explicit mapped_change_signal(const std::filesystem::path& file);
  ~mapped_change_signal() override;
};

}  // namespace smtpsd::store::embedded
