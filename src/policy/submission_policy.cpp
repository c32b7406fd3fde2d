#include "policy/submission_policy.hpp"

#include <fmt/format.h>

#include "base/strings.hpp"

#include "message/address_list.hpp"
#include "policy/identity.hpp"
#include "smtp/replies.hpp"

namespace smtpsd::policy {

submission_policy::submission_policy(std::shared_ptr<store::account_store> accounts,
                                     std::shared_ptr<store::suppression_store> suppressions,
                                     std::shared_ptr<store::queue_store> queue, const base::clock& clock,
                                     policy_defaults defaults)
    : accounts_(std::move(accounts)),
      suppressions_(std::move(suppressions)),
      queue_(std::move(queue)),
      clock_(clock),
      defaults_(defaults),
      limiter_(clock, [q = queue_](std::int64_t id, base::time_point since) { return q->usage(id, since); }) {}

void submission_policy::set_defaults(policy_defaults d) {
  std::lock_guard l(mu_);
  defaults_ = d;
  cache_.clear();
}

std::variant<sender_profile, rejection> submission_policy::profile(std::string_view account_name) {
  try {
    const auto generation = accounts_->generation();
    {
      std::lock_guard l(mu_);
      if (generation != cache_generation_) {
        cache_.clear();
        cache_generation_ = generation;
      }
      if (auto it = cache_.find(account_name); it != cache_.end()) return it->second;
    }
    auto a = accounts_->find_account(account_name);
    if (!a) return rejection{smtp::replies::auth_required(), "account_removed", fmt::format("account={}", account_name)};
    if (a->suspended)
      return rejection{smtp::make_reply(550, "5.7.1", "Account suspended"), "account_suspended",
                       fmt::format("account={}", a->name)};
    sender_profile p;
    p.identities = accounts_->list_identities(a->id);
    std::lock_guard l(mu_);
    p.max_send_rate = a->max_send_rate.value_or(defaults_.max_send_rate);
    p.max_24h = a->max_24h.value_or(defaults_.max_24h);
    p.max_message_bytes = a->max_message_bytes.value_or(defaults_.max_message_bytes);
    p.account = std::move(*a);
    if (cache_generation_ == generation && cache_.size() < 10000) cache_.emplace(p.account.name, p);
    return p;
  } catch (const std::exception& e) {
    return storage_failure(e);
  }
}

std::optional<rejection> submission_policy::check_mail(const sender_profile& p, const smtp::mailbox& from) const {
  if (from.is_null())
    return rejection{smtp::replies::null_sender_refused(), "null_sender", fmt::format("account={}", p.account.name)};
  auto addr = normalize_address(from.str());
  if (!addr || !covers(p.identities, *addr))
    return rejection{smtp::replies::sender_not_authorized(from.str()), "sender_not_authorized",
                     fmt::format("account={} mail_from=<{}> identities={}", p.account.name, from.str(),
                                 p.identities.size())};
  return std::nullopt;
}

std::optional<rejection> submission_policy::check_rcpt(const sender_profile& p, const smtp::mailbox& rcpt) {
  try {
    if (auto s = suppressions_->find(rcpt.str()))
      return rejection{smtp::replies::suppressed(rcpt.str()), "suppressed",
                       fmt::format("rcpt=<{}> reason=\"{}\"", rcpt.str(), s->reason)};
    auto d = limiter_.reserve(p.account.id, p.max_send_rate, p.max_24h);
    switch (d.o) {
      case send_limiter::outcome::ok:
        return std::nullopt;
      case send_limiter::outcome::quota:
        return rejection{smtp::replies::quota_exceeded(), "daily_quota",
                         fmt::format("account={} sent_24h={} limit={}", p.account.name, d.value, d.limit)};
      case send_limiter::outcome::rate:
        return rejection{smtp::replies::rate_exceeded(), "send_rate",
                         fmt::format("account={} tokens={:.2f} limit={}/s", p.account.name, d.value, d.limit)};
    }
  } catch (const std::exception& e) {
    return storage_failure(e);
  }
  return std::nullopt;
}

std::optional<rejection> submission_policy::check_headers(const sender_profile& p,
                                                          const std::vector<message::header_field>& fields) const {
  bool saw_from = false;
  for (const auto& f : fields) {
    const bool is_from = base::iequals(f.name, "From");
    if (!is_from && !base::iequals(f.name, "Sender")) continue;
    saw_from |= is_from;
    auto list = message::parse_address_list(f.value);
    if (!list || list->empty())
      return rejection{smtp::replies::malformed_headers(), "malformed_headers",
                       fmt::format("unparseable {}: field", f.name)};
    for (const auto& a : *list) {
      auto n = normalize_address(a);
      if (!n || !covers(p.identities, *n))
        return rejection{smtp::replies::header_from_not_authorized(a), "header_from_not_authorized",
                         fmt::format("account={} {}=<{}>", p.account.name, f.name, a)};
    }
  }
  if (!saw_from)
    return rejection{smtp::make_reply(554, "5.6.0", "Message has no From: header field"), "malformed_headers",
                     "no From: field"};
  return std::nullopt;
}

void submission_policy::release(const sender_profile& p, unsigned recipients) {
  limiter_.release(p.account.id, recipients, p.max_send_rate);
}

void submission_policy::committed(const sender_profile& p, unsigned recipients) {
  limiter_.commit(p.account.id, recipients);
}

std::uint64_t submission_policy::usage_24h(std::int64_t account_id) {
  return policy::usage_24h(*queue_, account_id, clock_.now());
}

std::uint64_t usage_24h(store::queue_store& q, std::int64_t account_id, base::time_point now) {
  std::uint64_t n = 0;
  for (auto& b : q.usage(account_id, now - std::chrono::hours(24) + std::chrono::minutes(1))) n += b.count;
  return n;
}

}  // namespace smtpsd::policy
