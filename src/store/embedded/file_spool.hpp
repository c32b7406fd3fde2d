#pragma once
// Bodies as files in one folder, one file per message:
//
//   [32-octet preamble][body][header section]
//
// The body is streamed in as it arrives and the header section is appended
// once final, so nothing is copied. The preamble ("SMTPSDQ1", body length,
// header length) is written last: a file whose preamble is missing or whose
// lengths do not add up to its size is incomplete and is refused.
#include <filesystem>

#include "store/spool.hpp"

namespace smtpsd::store::embedded {

class file_spool final : public spool {
 public:
  explicit file_spool(std::filesystem::path dir);
  ~file_spool() override;
  std::unique_ptr<spool_writer> create(std::string_view id) override;
  void sync(std::span<spool_writer* const> entries) override;
  void remove(std::string_view id) override;
  std::unique_ptr<spool_reader> open(std::string_view id) override;
  std::vector<std::string> ids() override;
  void quarantine(std::string_view id) override;

 private:
  std::filesystem::path path_of(std::string_view id) const;
  std::filesystem::path dir_;
  int dir_fd_ = -1;
};

}  // namespace smtpsd::store::embedded
