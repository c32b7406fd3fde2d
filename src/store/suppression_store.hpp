#pragma once
// One suppression list for the installation: addresses that hard-bounced or
// were added by hand. Addresses are compared in lower case.
#include <cstdint>
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
  // A page in address order after `after` ("" = from the start), only
  // addresses starting with `prefix` when one is given.
  virtual std::vector<suppression_entry> list(std::string_view after, std::size_t limit, std::string_view prefix) = 0;
  virtual std::size_t count() = 0;
  // Moves with every add and remove that changed the list, made by any
  // process or node, so a copy of the list knows when it is stale.
  virtual std::uint64_t generation() = 0;
  std::vector<suppression_entry> list() { return list("", SIZE_MAX, ""); }
};

}  // namespace smtpsd::store
