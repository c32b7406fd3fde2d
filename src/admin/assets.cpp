#include "admin/assets.hpp"

namespace smtpsd::admin {

const asset* find_asset(std::string_view path) {
  for (auto& a : embedded_assets())
    if (a.path == path) return &a;
  return nullptr;
}

}  // namespace smtpsd::admin
