#include "events/log_reader.hpp"

#include <algorithm>

namespace smtpsd::events {

// rows_ holds every row of the log with held_from_ < seq <= read_up_to_.
std::vector<log_reader::row> log_reader::after(std::int64_t seq, std::size_t max) {
  if (read_up_to_ < 0 || seq < held_from_ || seq > read_up_to_) {
    // Outside what is held (the first call, a webhook behind a trim or ahead
    // of the others at start): hold from here instead.
    rows_.clear();
    held_from_ = read_up_to_ = seq;
  }
  std::vector<row> out;
  auto it = std::upper_bound(rows_.begin(), rows_.end(), seq, [](std::int64_t s, const row& r) { return s < r->seq; });
  for (; it != rows_.end() && out.size() < max; ++it) out.push_back(*it);
  if (out.size() < max) {  // everything held was taken: read what is new, for every webhook
    for (auto& r : store_->read_after(read_up_to_, std::max(batch, max))) {
      read_up_to_ = r.seq;
      auto shared = std::make_shared<const store::stored_event>(std::move(r));
      if (out.size() < max) out.push_back(shared);
      rows_.push_back(std::move(shared));
    }
    while (rows_.size() > held_at_most) {
      held_from_ = rows_.front()->seq;
      rows_.pop_front();
    }
  }
  return out;
}


}  // namespace smtpsd::events
