#pragma once
// One suppression list for the installation: addresses that hard-bounced or
// were added by hand. Addresses are compared in lower case.
#include <optional>
#include <string_view>
#include <vector>

#include "store/types.hpp"

namespace smtpsd::store {

class suppression_store {
 public:
  virtual ~suppression_store() = default;
  // false when already present (the first reason stays).
  virtual bool add(std::string_view address, std::string_view reason, time_point when) = 0;
  virtual bool remove(std::string_view address) = 0;
  virtual std::optional<suppression_entry> find(std::string_view address) = 0;
  virtual std::vector<suppression_entry> list() = 0;
};

}  // namespace smtpsd::store
