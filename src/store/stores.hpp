#pragma once
// The set of stores one backend provides. Only main.cpp names a backend.
#include <memory>

#include "store/account_store.hpp"
#include "store/counters.hpp"
#include "store/event_store.hpp"
#include "store/queue_store.hpp"
#include "store/spool.hpp"
#include "store/suppression_store.hpp"

namespace smtpsd::store {

struct stores {
  std::shared_ptr<account_store> accounts;
  std::shared_ptr<queue_store> queue;
  std::shared_ptr<spool> bodies;
  std::shared_ptr<suppression_store> suppressions;
  std::shared_ptr<event_store> events;
  std::shared_ptr<counters> shared_counters;  // null: one node, counted in memory
};

}  // namespace smtpsd::store
