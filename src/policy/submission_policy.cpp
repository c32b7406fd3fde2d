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
    const auto asked = clock_.now();  // before the read: what was changed before it is seen
    const auto generation = accounts_->generation();
    {
      std::lock_guard l(mu_);
      if (generation != cache_generation_) {
        cache_.clear();
        cache_generation_ = generation;
      }
      generation_confirmed_ = asked;
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
    if (a->sandbox) {  // SES's sandbox: 1 recipient per second, 200 per 24 hours
      p.max_send_rate = std::min(p.max_send_rate, sandbox_max_send_rate);
      p.max_24h = std::min(p.max_24h, sandbox_max_24h);
    }
    p.account = std::move(*a);
    if (cache_generation_ == generation && cache_.size() < 10000) cache_.emplace(p.account.name, p);
    return p;
  } catch (const std::exception& e) {
    return storage_failure(e);
  }
}

std::optional<sender_profile> submission_policy::cached_profile(std::string_view account_name) const {
  const auto now = clock_.now();
  std::lock_guard l(mu_);
  if (now < generation_confirmed_ || now - generation_confirmed_ >= recheck) return std::nullopt;
  auto it = cache_.find(account_name);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

std::optional<rejection> check_identity(const sender_profile& p, const smtp::mailbox& from) {
  if (from.is_null())
    return rejection{smtp::replies::null_sender_refused(), "null_sender", fmt::format("account={}", p.account.name)};
  auto addr = normalize_address(from.str());
  if (!addr || !covers(p.identities, *addr))
    return rejection{smtp::replies::sender_not_authorized(from.str()), "sender_not_authorized",
                     fmt::format("account={} mail_from=<{}> identities={}", p.account.name, from.str(),
                                 p.identities.size())};
  return std::nullopt;
}

std::optional<rejection> submission_policy::check_mail(const sender_profile& p, const smtp::mailbox& from) const {
  if (auto r = check_paused(p)) return r;
  return check_identity(p, from);
}

std::optional<rejection> check_paused(const sender_profile& p) {
  if (p.account.paused.empty()) return std::nullopt;
  return rejection{smtp::replies::sending_paused(p.account.name, p.account.paused), "account_paused",
                   fmt::format("account={}", p.account.name)};
}

std::optional<rejection> check_sandbox(const sender_profile& p, const smtp::mailbox& rcpt) {
  if (!p.account.sandbox) return std::nullopt;
  auto addr = normalize_address(rcpt.str());
  if (addr) {
    if (covers(p.identities, *addr)) return std::nullopt;
    const auto lower = base::to_lower(*addr);
    for (auto& a : p.account.allowed_recipients)
      if (a == lower) return std::nullopt;
  }
  return rejection{smtp::replies::sandbox_recipient(rcpt.str(), p.account.name), "sandbox",
                   fmt::format("account={} rcpt=<{}>", p.account.name, rcpt.str())};
}

std::optional<rejection> check_suppressed(store::suppression_store& s, const smtp::mailbox& rcpt) {
  if (auto e = s.find(rcpt.str()))
    return rejection{smtp::replies::suppressed(rcpt.str()), "suppressed",
                     fmt::format("rcpt=<{}> reason=\"{}\"", rcpt.str(), e->reason)};
  return std::nullopt;
}

std::optional<rejection> limit_rejection(const sender_profile& p, const send_limiter::decision& d) {
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
  return std::nullopt;
}

std::optional<rejection> submission_policy::check_rcpt(const sender_profile& p, const smtp::mailbox& rcpt) {
  try {
    if (auto r = check_sandbox(p, rcpt)) return r;
    suppressed_.refresh(*suppressions_, clock_.now());
    if (auto r = check_suppressed(*suppressions_, rcpt)) return r;
    return limit_rejection(p, limiter_.reserve(p.account.id, p.max_send_rate, p.max_24h));
  } catch (const std::exception& e) {
    return storage_failure(e);
  }
}

void submission_policy::prepare(std::string_view account_name) {
  profile(account_name);
  try {
    suppressed_.confirm(*suppressions_, clock_.now());
  } catch (const std::exception&) {
    // The copy stays stale: RCPT asks the store, and reports its failure there.
  }
}

submission_policy::quick_answer submission_policy::try_check_rcpt(const sender_profile& p, const smtp::mailbox& rcpt) {
  if (auto r = check_sandbox(p, rcpt)) return {true, std::move(r)};
  // On the list: the pool reads the entry, whose reason goes into the log.
  const auto on_list = suppressed_.contains(rcpt.str(), clock_.now());
  if (!on_list || *on_list) return {};
  auto d = limiter_.try_reserve(p.account.id, p.max_send_rate, p.max_24h);
  if (!d) return {};
  return {true, limit_rejection(p, *d)};
}

std::vector<explained_check> submission_policy::explain(std::string_view account_name, std::string_view from_text,
                                                        std::string_view to_text, std::uint64_t size) {
  std::vector<explained_check> out;
  auto add = [&](const char* check, const std::optional<rejection>& r, std::string detail) {
    out.push_back({check, r ? "fail" : "pass", r ? r->detail : std::move(detail), r ? std::optional(r->reply) : std::nullopt});
  };
  auto from_box = smtp::parse_mailbox(from_text);
  auto to_box = smtp::parse_mailbox(to_text);
  if (!from_box || !to_box) {
    add("syntax", rejection{smtp::make_reply(501, from_box ? "5.1.3" : "5.1.7", "Bad address syntax"), "syntax",
                            fmt::format("<{}> is not an address", from_box ? to_text : from_text)},
        "");
    return out;
  }
  const auto& from = *from_box;
  const auto& to = *to_box;
  auto pv = profile(account_name);
  if (auto* r = std::get_if<rejection>(&pv)) {
    add("account", *r, "");
    return out;
  }
  const auto& p = std::get<sender_profile>(pv);
  add("account", std::nullopt, fmt::format("account {} exists and is not suspended", p.account.name));
  add("reputation", check_paused(p), "sending is not paused");
  add("identity", check_identity(p, from),
      fmt::format("<{}> is covered by an identity of the account", from.str()));
  std::optional<rejection> size_r;
  if (size > p.max_message_bytes)
    size_r = rejection{smtp::replies::message_too_big(), "size", fmt::format("size={} limit={}", size, p.max_message_bytes)};
  add("size", size_r, fmt::format("{} octets, limit {}", size, p.max_message_bytes));
  add("sandbox", check_sandbox(p, to),
      p.account.sandbox ? fmt::format("<{}> is an identity or an allowed recipient of the account", to.str())
                        : std::string("the account is not in the sandbox"));
  try {
    add("suppression", check_suppressed(*suppressions_, to), fmt::format("<{}> is not suppressed", to.str()));
    // Nothing is taken from the counters. The send-rate bucket holds
    // `capacity` recipients and refills in capacity/rate seconds: it is taken
    // as empty when the store counted that many recipients over that time
    // (per minute: for a bucket that refills within a minute, when the last
    // minute's recipients came at the rate or faster). The quota is the last
    // 24 hours, as the server counts it.
    const auto now = clock_.now();
    const double capacity = token_bucket::capacity(p.max_send_rate);
    const auto refill = std::chrono::duration<double>(capacity / p.max_send_rate);
    const bool long_refill = refill >= std::chrono::minutes(1);
    const auto since = now - (long_refill ? std::chrono::duration_cast<base::time_point::duration>(refill)
                                          : std::chrono::duration_cast<base::time_point::duration>(std::chrono::minutes(1)));
    std::uint64_t recent = 0, day = 0;
    for (auto& b : queue_->usage(p.account.id, now - std::chrono::hours(24) + std::chrono::minutes(1))) {
      day += b.count;
      if (b.minute + std::chrono::minutes(1) > since) recent += b.count;
    }
    const double throttled_at = long_refill ? capacity : p.max_send_rate * 60;
    std::optional<rejection> rate_r, quota_r;
    if (static_cast<double>(recent) >= throttled_at)
      rate_r = limit_rejection(p, {send_limiter::outcome::rate, 0, p.max_send_rate});
    if (day + 1 > p.max_24h)
      quota_r = limit_rejection(p, {send_limiter::outcome::quota, static_cast<double>(day), static_cast<double>(p.max_24h)});
    add("rate", rate_r,
        fmt::format("{} recipients in the last {:.0f} s, limit {}/s", recent,
                    long_refill ? refill.count() : 60.0, p.max_send_rate));
    add("quota", quota_r, fmt::format("{} recipients in the last 24 hours, limit {}", day, p.max_24h));
  } catch (const std::exception& e) {
    add("store", storage_failure(e), "");
  }
  return out;
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
