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
  std::unique_lock busy(loading_, std::try_to_lock);
  if (!busy) return;  // another thread is at it; this caller asks the store itself
  load(store, now);
}

void suppression_copy::confirm(store::suppression_store& store, base::time_point now) {
  std::lock_guard busy(loading_);
  {
    std::lock_guard l(mu_);
    if (loaded_ && confirmed_ > now) return;  // confirmed by another thread since
  }
  load(store, now);
}

void suppression_copy::load(store::suppression_store& store, base::time_point now) {
  // The generation first, then the list: the copy is never older than the
  // generation it is recorded with (a change in between only reloads it again).
  const auto g = store.generation();
  {
    std::lock_guard l(mu_);
    if (loaded_ && g == generation_) {
      confirmed_ = now;
      return;
    }
  }
  std::shared_ptr<const set> copy;
  if (store.count() <= max_entries) {
    auto s = std::make_shared<set>();
    for (auto& e : store.list()) s->insert(e.address);
    copy = std::move(s);
  }
  std::lock_guard l(mu_);
  addresses_ = std::move(copy);
  generation_ = g;
  loaded_ = true;
  confirmed_ = now;
}

}  // namespace smtpsd::policy
