#include "policy/suppression_copy.hpp"

#include "base/strings.hpp"

namespace smtpsd::policy {

bool suppression_copy::fresh(base::time_point now) const {
  return loaded_ && now >= confirmed_ && now - confirmed_ < recheck;
}

std::optional<bool> suppression_copy::contains(std::string_view address, base::time_point now) const {
  std::shared_ptr<const set> s;
  {
    std::lock_guard l(mu_);
    if (!fresh(now) || !addresses_) return std::nullopt;
    s = addresses_;
  }
  return s->count(base::to_lower(address)) > 0;
}

void suppression_copy::refresh(store::suppression_store& store, base::time_point now) {
  {
    std::lock_guard l(mu_);
    if (fresh(now)) return;
  }
  std::unique_lock busy(refreshing_, std::try_to_lock);
  if (!busy) return;
  // The generation first, then the list: the copy is never older than the
  // generation it is recorded with (a change in between only reloads it again).
  const auto g = store.generation();
  std::shared_ptr<const set> fresh_copy;
  bool reload = false;
  {
    std::lock_guard l(mu_);
    reload = !loaded_ || g != generation_;
    if (!reload) {
      confirmed_ = now;
      return;
    }
  }
  if (store.count() <= max_entries) {
    auto s = std::make_shared<set>();
    for (auto& e : store.list()) s->insert(e.address);
    fresh_copy = std::move(s);
  }
  std::lock_guard l(mu_);
  addresses_ = std::move(fresh_copy);
  generation_ = g;
  loaded_ = true;
  confirmed_ = now;
}

}  // namespace smtpsd::policy
