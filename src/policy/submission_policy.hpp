#pragma once
// The account policy of a submission, enforced at SMTP time with SES's
// replies: who the account may send as (MAIL FROM, then From:/Sender: after
// the data), how fast and how much (recipients per second and per rolling 24
// hours), and never to a suppressed address. Checks that read the store block
// and run on the worker pool; if the store cannot answer, the answer is a
// 451 4.3.0: a check never fails open.
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "message/headers.hpp"
#include "policy/limits.hpp"
#include "policy/rejection.hpp"
#include "policy/suppression_copy.hpp"
#include "smtp/address.hpp"
#include "store/account_store.hpp"
#include "store/queue_store.hpp"
#include "store/suppression_store.hpp"

namespace smtpsd::policy {

struct policy_defaults {
  double max_send_rate = 14;
  std::uint64_t max_24h = 50000;
  std::uint64_t max_message_bytes = 41943040;
};

// An account as a transaction sees it: taken at MAIL from a cache that is at
// most `recheck` old (see cached_profile), so a change made with the CLI
// applies to transactions that start half a second later.
struct sender_profile {
  store::account account;
  std::vector<store::identity> identities;
  double max_send_rate = 0;
  std::uint64_t max_24h = 0;
  std::uint64_t max_message_bytes = 0;
};

// SES's sandbox figures.
constexpr double sandbox_max_send_rate = 1;
constexpr std::uint64_t sandbox_max_24h = 200;

// One check of `policy explain`: its verdict ("pass" or "fail"), why, and
// the reply a submission would get when it fails.
struct explained_check {
  std::string check;  // account, reputation, identity, size, sandbox, suppression, rate, quota
  std::string verdict;
  std::string detail;
  std::optional<smtp::reply> reply;
};

// The checks, each on its own (submission_policy runs them in this order).
std::optional<rejection> check_paused(const sender_profile& p);
std::optional<rejection> check_identity(const sender_profile& p, const smtp::mailbox& from);
std::optional<rejection> check_sandbox(const sender_profile& p, const smtp::mailbox& rcpt);

class submission_policy {
 public:
  submission_policy(std::shared_ptr<store::account_store> accounts, std::shared_ptr<store::suppression_store> suppressions,
                    std::shared_ptr<store::queue_store> queue, const base::clock& clock, policy_defaults defaults);

  // Blocking. Cached until the store's change generation moves, so a change
  // made with the CLI applies to the next transaction.
  std::variant<sender_profile, rejection> profile(std::string_view account_name);
  // No I/O: the cached profile while the generation was confirmed less than
  // `recheck` ago (by profile(), on the worker pool); else nullopt, and the
  // caller asks profile() there. A change made elsewhere (the CLI, another
  // node) is therefore seen within `recheck`, one made here at once.
  std::optional<sender_profile> cached_profile(std::string_view account_name) const;
  static constexpr auto recheck = suppression_copy::recheck;
  std::optional<rejection> check_mail(const sender_profile& p, const smtp::mailbox& from) const;
  // Blocking (suppression lookup; the first use of an account loads its usage).
  std::optional<rejection> check_rcpt(const sender_profile& p, const smtp::mailbox& rcpt);
  // check_rcpt() without I/O, when memory can answer: the sandbox, the copy
  // of the suppression list, this node's counts. known = false: ask
  // check_rcpt() on the worker pool (nothing was reserved).
  struct quick_answer {
    bool known = false;
    std::optional<rejection> refused;
  };
  quick_answer try_check_rcpt(const sender_profile& p, const smtp::mailbox& rcpt);
  // Blocking: reads the account's profile and confirms the copy of the
  // suppression list, so that what follows (a session's MAIL and RCPTs right
  // after its AUTH) can be answered from memory, and sees every change made
  // before this call.
  void prepare(std::string_view account_name);
  std::optional<rejection> check_headers(const sender_profile& p, const std::vector<message::header_field>& fields) const;

  // Blocking. Every check of a submission of `size` octets from `from` to
  // `to`, in the order a submission meets them, without counting anything.
  std::vector<explained_check> explain(std::string_view account_name, std::string_view from, std::string_view to,
                                       std::uint64_t size);

  void release(const sender_profile& p, unsigned recipients);
  void committed(const sender_profile& p, unsigned recipients);
  // Recipients queued in the last 24 hours (blocking).
  std::uint64_t usage_24h(std::int64_t account_id);
  void set_defaults(policy_defaults d);
  // Several nodes: send rates and quotas counted in `shared` (Redis).
  void use_shared_counters(std::shared_ptr<store::counters> shared) { limiter_.use_shared(std::move(shared)); }

 private:
  std::shared_ptr<store::account_store> accounts_;
  std::shared_ptr<store::suppression_store> suppressions_;
  std::shared_ptr<store::queue_store> queue_;
  const base::clock& clock_;
  mutable std::mutex mu_;
  policy_defaults defaults_;
  std::uint64_t cache_generation_ = ~0ull;
  base::time_point generation_confirmed_{};  // when cache_generation_ was last read from the store
  std::map<std::string, sender_profile, std::less<>> cache_;
  send_limiter limiter_;
  suppression_copy suppressed_;
};

// Recipients queued in the last 24 hours, straight from the store (the CLI).
std::uint64_t usage_24h(store::queue_store& q, std::int64_t account_id, base::time_point now);

}  // namespace smtpsd::policy
