#include "policy/reservation.hpp"

namespace smtpsd::policy {

reservation::~reservation() {
  if (count_) policy_->release(profile_, std::exchange(count_, 0));
}

void reservation::commit() {
  if (count_) policy_->committed(profile_, std::exchange(count_, 0));
}

}  // namespace smtpsd::policy
