#include "policy/rejection.hpp"

#include "smtp/replies.hpp"
#include "store/types.hpp"

namespace smtpsd::policy {

rejection storage_failure(const std::exception& e) {
  if (dynamic_cast<const store::storage_full*>(&e))
    return {smtp::replies::insufficient_storage(), "storage_full", e.what()};
  return {smtp::replies::temporary_failure(), "storage", e.what()};
}

}  // namespace smtpsd::policy
