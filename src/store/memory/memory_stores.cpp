#include "store/memory/memory_stores.hpp"

#include "base/random.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include "base/clock.hpp"
#include "base/strings.hpp"
#include "base/time_format.hpp"

namespace smtpsd::store::memory {

namespace {

class accounts final : public account_store {
 public:
  explicit accounts(std::shared_ptr<local_change_signal> changes) : changes_(std::move(changes)) {}
  const change_signal* changes() const override { return changes_.get(); }
  std::optional<account> create_account(const account& a) override {
    std::lock_guard l(mu_);
    for (auto& [id, x] : accounts_)
      if (x.name == a.name) return std::nullopt;
    account out = a;
    out.id = ++next_id_;
    accounts_[out.id] = out;
    changed();
    return out;
  }
  std::optional<account> find_account(std::string_view name) override {
    std::lock_guard l(mu_);
    return find(name);
  }
  std::optional<account> find_account(std::int64_t id) override {
    std::lock_guard l(mu_);
    auto it = accounts_.find(id);
    if (it == accounts_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<account> list_accounts() override {
    std::lock_guard l(mu_);
    std::vector<account> out;
    for (auto& [id, a] : accounts_) out.push_back(a);
    std::sort(out.begin(), out.end(), [](auto& x, auto& y) { return x.name < y.name; });
    return out;
  }
  bool update_account(const account& a) override {
    std::lock_guard l(mu_);
    auto it = accounts_.find(a.id);
    changed();
    if (it == accounts_.end()) return false;
    auto name = it->second.name;
    auto created = it->second.created;
    it->second = a;
    it->second.name = name;
    it->second.created = created;
    return true;
  }
  bool remove_account(std::string_view name) override {
    std::lock_guard l(mu_);
    auto a = find(name);
    changed();
    if (!a) return false;
    accounts_.erase(a->id);
    std::erase_if(reputation_, [&](auto& kv) { return kv.first.first == a->id; });
    std::erase_if(creds_, [&](auto& kv) { return kv.second.account_id == a->id; });
    std::erase_if(identities_, [&](auto& i) { return i.account_id == a->id; });
    return true;
  }
  std::optional<credential> create_credential(std::int64_t account_id, std::string_view username,
                                              std::string_view hash, std::string_view scram) override {
    std::lock_guard l(mu_);
    if (creds_.count(std::string(username))) return std::nullopt;
    credential c{++next_id_, std::string(username), account_id, std::string(hash), std::string(scram),
                 base::from_unix_seconds(base::unix_seconds(base::real_clock().now()))};
    creds_[c.username] = c;
    changed();
    return c;
  }
  std::optional<login> find_login(std::string_view username) override {
    std::lock_guard l(mu_);
    auto it = creds_.find(std::string(username));
    if (it == creds_.end()) return std::nullopt;
    auto a = accounts_.find(it->second.account_id);
    if (a == accounts_.end()) return std::nullopt;
    return login{it->second, a->second};
  }
  std::vector<credential> list_credentials(std::int64_t account_id) override {
    std::lock_guard l(mu_);
    std::vector<credential> out;
    for (auto& [u, c] : creds_)
      if (c.account_id == account_id) out.push_back(c);
    return out;
  }
  bool revoke_credential(std::string_view username) override {
    std::lock_guard l(mu_);
    changed();
    return creds_.erase(std::string(username)) > 0;
  }
  std::optional<identity> add_identity(std::int64_t account_id, std::string_view value, identity_kind kind) override {
    std::lock_guard l(mu_);
    for (auto& i : identities_)
      if (i.account_id == account_id && i.value == value) return std::nullopt;
    identity i{++next_id_, account_id, std::string(value), kind,
               base::from_unix_seconds(base::unix_seconds(base::real_clock().now()))};
    identities_.push_back(i);
    changed();
    return i;
  }
  std::vector<identity> list_identities(std::int64_t account_id) override {
    std::lock_guard l(mu_);
    std::vector<identity> out;
    for (auto& i : identities_)
      if (i.account_id == account_id) out.push_back(i);
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.value < b.value; });
    return out;
  }
  bool remove_identity(std::int64_t account_id, std::string_view value) override {
    std::lock_guard l(mu_);
    changed();
    return std::erase_if(identities_, [&](auto& i) { return i.account_id == account_id && i.value == value; }) > 0;
  }
  bool create_token(const api_token& tk) override {
    std::lock_guard l(mu_);
    if (!tokens_.emplace(tk.name, tk).second) return false;
    changed();
    return true;
  }
  std::optional<api_token> find_token(std::string_view hash) override {
    std::lock_guard l(mu_);
    for (auto& [n, tk] : tokens_)
      if (tk.hash == hash) return tk;
    return std::nullopt;
  }
  std::vector<api_token> list_tokens() override {
    std::lock_guard l(mu_);
    std::vector<api_token> out;
    for (auto& [n, tk] : tokens_) out.push_back(tk);
    return out;
  }
  bool revoke_token(std::string_view name) override {
    std::lock_guard l(mu_);
    changed();
    return tokens_.erase(std::string(name)) > 0;
  }
  std::uint64_t generation() override {
    std::lock_guard l(mu_);
    return gen_;
  }
  std::optional<std::string> read_shared_file(std::string_view path) override {
    std::lock_guard l(mu_);
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return std::nullopt;
    return it->second;
  }
  void write_shared_file(std::string_view path, std::string_view data) override {
    std::lock_guard l(mu_);
    files_[std::string(path)] = std::string(data);
    changed();
  }
  void remove_shared_file(std::string_view path) override {
    std::lock_guard l(mu_);
    files_.erase(std::string(path));
    changed();
  }
  std::vector<std::string> shared_files(std::string_view suffix) override {
    std::lock_guard l(mu_);
    std::vector<std::string> out;
    for (auto& [p, d] : files_)
      if (std::string_view(p).ends_with(suffix)) out.push_back(p);
    return out;
  }
  std::string installation_secret() override {
    std::lock_guard l(mu_);
    if (secret_.empty()) secret_ = base::random_bytes(32);
    return secret_;
  }
  void add_reputation(std::span<const reputation_delta> deltas) override {
    std::lock_guard l(mu_);
    for (auto& d : deltas) {
      auto& b = reputation_[{d.account_id, d.counts.hour}];
      b.hour = d.counts.hour;
      b.recipients += d.counts.recipients;
      b.bounces += d.counts.bounces;
      b.complaints += d.counts.complaints;
    }
  }
  std::vector<reputation_bucket> reputation(std::int64_t account_id, time_point since) override {
    std::lock_guard l(mu_);
    std::vector<reputation_bucket> out;
    for (auto it = reputation_.rbegin(); it != reputation_.rend(); ++it)
      if (it->first.first == account_id && it->first.second >= since) out.push_back(it->second);
    return out;
  }

 private:
  std::map<std::pair<std::int64_t, time_point>, reputation_bucket> reputation_;
  std::string secret_;
  std::map<std::string, std::string> files_;
  std::optional<account> find(std::string_view name) {
    for (auto& [id, a] : accounts_)
      if (a.name == name) return a;
    return std::nullopt;
  }
  std::mutex mu_;
  std::map<std::string, api_token> tokens_;
  std::map<std::int64_t, account> accounts_;
  std::map<std::string, credential> creds_;
  std::vector<identity> identities_;
  // Under mu_: a reader that takes mu_ after reading the signal sees the change.
  void changed() {
    ++gen_;
    changes_->bump();
  }
  std::int64_t next_id_ = 0;
  std::uint64_t gen_ = 0;
  std::shared_ptr<local_change_signal> changes_;
};

class events final : public event_store {
 public:
  std::vector<std::int64_t> append(std::span<const stored_event> batch) override {
    std::lock_guard l(mu_);
    std::vector<std::int64_t> seqs;
    for (auto e : batch) {
      e.seq = ++last_;
      seqs.push_back(e.seq);
      auto& s = stats_[{bucket_of(e.time), e.account, e.type}];
      s.first += 1;
      s.second += e.recipients;
      log_[e.seq] = std::move(e);
    }
    return seqs;
  }
  std::vector<stored_event> read_after(std::int64_t seq, std::size_t limit) override {
    std::lock_guard l(mu_);
    std::vector<stored_event> out;
    for (auto it = log_.upper_bound(seq); it != log_.end() && out.size() < limit; ++it) out.push_back(it->second);
    return out;
  }
  std::int64_t last_seq() override {
    std::lock_guard l(mu_);
    return last_;
  }
  std::vector<stored_event> query(const event_query& q) override {
    std::lock_guard l(mu_);
    std::vector<stored_event> out;
    for (auto it = log_.rbegin(); it != log_.rend() && out.size() < q.limit; ++it) {
      const auto& e = it->second;
      if (q.before_seq && e.seq >= q.before_seq) continue;
      if ((!q.type.empty() && e.type != q.type) || (!q.account.empty() && e.account != q.account)) continue;
      if ((q.since && e.time < *q.since) || (q.until && e.time > *q.until)) continue;
      out.push_back(e);
    }
    return out;
  }
  std::optional<std::int64_t> cursor(std::string_view consumer) override {
    std::lock_guard l(mu_);
    auto it = cursors_.find(std::string(consumer));
    if (it == cursors_.end()) return std::nullopt;
    return it->second;
  }
  void set_cursor(std::string_view consumer, std::int64_t seq) override {
    std::lock_guard l(mu_);
    cursors_[std::string(consumer)] = seq;
  }
  void add_dead_letter(std::string_view consumer, std::int64_t seq, std::string_view reason, time_point when) override {
    std::lock_guard l(mu_);
    dead_[{std::string(consumer), seq}] = {std::string(reason), when, false};
  }
  std::vector<dead_letter> dead_letters(std::string_view consumer) override {
    std::lock_guard l(mu_);
    std::vector<dead_letter> out;
    for (auto& [key, d] : dead_) {
      if (!consumer.empty() && key.first != consumer) continue;
      auto it = log_.find(key.second);
      if (it == log_.end()) continue;
      out.push_back({key.first, it->second, d.reason, d.when, d.redeliver});
    }
    return out;
  }
  std::size_t request_redelivery(std::string_view consumer, std::string_view event_id) override {
    std::lock_guard l(mu_);
    std::size_t n = 0;
    for (auto& [key, d] : dead_) {
      if (!consumer.empty() && key.first != consumer) continue;
      if (!event_id.empty() && log_[key.second].id != event_id) continue;
      d.redeliver = true;
      ++n;
    }
    return n;
  }
  void remove_dead_letter(std::string_view consumer, std::int64_t seq) override {
    std::lock_guard l(mu_);
    dead_.erase({std::string(consumer), seq});
  }
  void prune_statistics(time_point before) override {
    std::lock_guard l(mu_);
    std::erase_if(stats_, [&](auto& kv) { return std::get<0>(kv.first) < before; });
  }
  std::vector<stat_bucket> statistics(time_point since, std::string_view account) override {
    std::lock_guard l(mu_);
    std::map<std::pair<time_point, std::string>, stat_bucket> sum;
    for (auto& [key, v] : stats_) {
      auto& [bucket, acct, type] = key;
      if (bucket < bucket_of(since) || (!account.empty() && acct != account)) continue;
      auto& b = sum[{bucket, type}];
      b.start = bucket;
      b.type = type;
      b.events += v.first;
      b.recipients += v.second;
    }
    std::vector<stat_bucket> out;
    for (auto& [k, b] : sum) out.push_back(b);
    return out;
  }
  std::size_t prune(time_point before) override {
    std::lock_guard l(mu_);
    std::int64_t floor = INT64_MAX;
    for (auto& [c, s] : cursors_) floor = std::min(floor, s);
    std::size_t n = 0;
    for (auto it = log_.begin(); it != log_.end();) {
      bool held = false;
      for (auto& [key, d] : dead_) held = held || key.second == it->first;
      if (it->second.time < before && it->first <= floor && !held) {
        it = log_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }

  bool hold_role(std::string_view, time_point, time_point) override { return true; }

 private:
  struct dead {
    std::string reason;
    time_point when;
    bool redeliver;
  };
  static time_point bucket_of(time_point t) {
    return time_point{std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()) / 900 * 900};
  }
  std::mutex mu_;
  std::int64_t last_ = 0;
  std::map<std::tuple<time_point, std::string, std::string>, std::pair<std::uint64_t, std::uint64_t>> stats_;
  std::map<std::int64_t, stored_event> log_;
  std::map<std::string, std::int64_t> cursors_;
  std::map<std::pair<std::string, std::int64_t>, dead> dead_;
};

class queue final : public queue_store {
 public:
  queue(std::shared_ptr<events> log, bool replaying) : log_(std::move(log)), replaying_(replaying) {}
  std::optional<spool_position> replayed_through() override {
    std::lock_guard l(mu_);
    if (!replaying_) return std::nullopt;
    return through_;
  }
  std::vector<std::int64_t> enqueue(std::span<const queued_message> batch, std::span<const stored_event> evs,
                                    enqueue_lease lease, std::optional<spool_cover> cover) override {
    std::vector<std::int64_t> tokens;
    {
      std::lock_guard l(mu_);
      for (auto& m : batch)
        if (messages_.count(m.id)) throw store_error("duplicate queue id " + m.id, false);
      if (cover) through_ = cover->through;
      for (auto& m : batch) {
        auto& stored = messages_[m.id] = m;
        stored.lease_token = 0;
        if (tokens.size() < lease.count) {
          leases_[m.id] = lease.until;
          tokens.push_back(stored.lease_token = ++last_token_);
        }
        auto minute = base::from_unix_seconds(base::unix_seconds(m.created) / 60 * 60);
        usage_[m.account_id][minute] += m.recipients.size();
      }
    }
    log_->append(evs);
    return tokens;
  }
  std::vector<usage_bucket> usage(std::int64_t account_id, time_point since) override {
    std::lock_guard l(mu_);
    std::vector<usage_bucket> out;
    auto floor = base::from_unix_seconds(base::unix_seconds(since) / 60 * 60);
    for (auto& [minute, n] : usage_[account_id])
      if (minute >= floor) out.push_back({minute, n});
    return out;
  }
  std::optional<queued_message> get(std::string_view id) override {
    std::lock_guard l(mu_);
    auto it = messages_.find(std::string(id));
    if (it == messages_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<queued_message> list(const queue_query& q) override {
    std::lock_guard l(mu_);
    std::vector<queued_message> out;
    const auto rcpt = base::to_lower(q.recipient);
    for (auto it = messages_.upper_bound(q.after); it != messages_.end() && out.size() < q.limit; ++it) {
      const auto& m = it->second;
      if (!q.account.empty() && m.account != q.account) continue;
      bool status = !q.status, to = rcpt.empty();
      for (auto& r : m.recipients) {
        status = status || r.status == *q.status;
        to = to || base::to_lower(r.address) == rcpt;
      }
      if (status && to) out.push_back(m);
    }
    return out;
  }
  bool remove(std::string_view id) override {
    std::lock_guard l(mu_);
    return messages_.erase(std::string(id)) > 0;
  }
  std::size_t count() override {
    std::lock_guard l(mu_);
    return messages_.size();
  }
  std::vector<std::string> ids() override {
    std::lock_guard l(mu_);
    std::vector<std::string> out;
    for (auto& [id, m] : messages_) out.push_back(id);
    return out;
  }
  std::size_t retry(std::string_view id, time_point now) override {
    std::lock_guard l(mu_);
    std::size_t n = 0;
    for (auto& [mid, m] : messages_) {
      if (!id.empty() && mid != id) continue;
      for (auto& r : m.recipients) {
        if (r.status == rcpt_status::queued || r.status == rcpt_status::deferred) {
          r.next_attempt = now;
          ++n;
        }
      }
    }
    return n;
  }
  std::vector<queued_message> claim_due(time_point now, time_point lease_until, std::size_t limit) override {
    std::lock_guard l(mu_);
    std::vector<std::pair<time_point, std::string>> fresh, retried;
    for (auto& [id, m] : messages_) {
      if (leases_[id] > now) continue;
      std::optional<time_point> first;
      unsigned attempts = 0;
      for (auto& r : m.recipients) {
        if (!pending(r.status) || !r.next_attempt || *r.next_attempt > now) continue;
        if (!first || *r.next_attempt < *first) first = r.next_attempt;
      }
      for (auto& r : m.recipients)
        if (pending(r.status)) attempts = std::max(attempts, r.attempts);
      if (!first) continue;
      (attempts ? retried : fresh).emplace_back(*first, id);
    }
    std::sort(fresh.begin(), fresh.end());
    std::sort(retried.begin(), retried.end());
    const std::size_t retry_share = std::min(retried.size(), std::max(limit / 2, limit - std::min(limit, fresh.size())));
    const std::size_t fresh_share = std::min(fresh.size(), limit - retry_share);
    std::vector<queued_message> out;
    for (std::size_t i = 0; i < fresh_share; ++i) out.push_back(messages_[fresh[i].second]);
    for (std::size_t i = 0; i < retry_share; ++i) out.push_back(messages_[retried[i].second]);
    for (auto& m : out) {
      leases_[m.id] = lease_until;
      m.lease_token = messages_[m.id].lease_token = ++last_token_;
    }
    return out;
  }
  std::vector<bool> renew_leases(std::span<const lease_ref> held, time_point lease_until) override {
    std::lock_guard l(mu_);
    std::vector<bool> out;
    for (auto& h : held) {
      auto it = messages_.find(h.id);
      const bool ok = it != messages_.end() && it->second.lease_token == h.token;
      if (ok) leases_[h.id] = lease_until;
      out.push_back(ok);
    }
    return out;
  }
  std::vector<recorded> record_attempts(std::span<const queued_message> batch,
                                        std::span<const std::vector<stored_event>> evs) override {
    std::vector<recorded> out;
    {
      std::lock_guard l(mu_);
      for (auto& m : batch) out.push_back(record(m));
    }
    for (std::size_t i = 0; i < evs.size() && i < out.size(); ++i)
      if (out[i] != recorded::lost) log_->append(evs[i]);
    return out;
  }
  void release_leases() override {
    std::lock_guard l(mu_);
    leases_.clear();
  }

 private:
  recorded record(const queued_message& m) {
    auto it = messages_.find(m.id);
    if (it == messages_.end()) return recorded::finished;
    if (it->second.lease_token != m.lease_token) return recorded::lost;
    leases_.erase(m.id);
    for (std::size_t i = 0; i < m.recipients.size() && i < it->second.recipients.size(); ++i)
      it->second.recipients[i] = m.recipients[i];
    for (auto& r : it->second.recipients)
      if (pending(r.status)) return recorded::open;
    messages_.erase(it);
    return recorded::finished;
  }

  std::shared_ptr<events> log_;
  bool replaying_ = false;
  std::mutex mu_;
  spool_position through_;  // the last cover's (replaying)
  std::map<std::string, time_point> leases_;
  std::int64_t last_token_ = 0;
  std::map<std::string, queued_message> messages_;
  std::map<std::int64_t, std::map<time_point, std::uint64_t>> usage_;
};

class suppressions final : public suppression_store {
 public:
  explicit suppressions(std::shared_ptr<local_change_signal> changes) : changes_(std::move(changes)) {}
  bool add(std::string_view address, std::string_view reason, time_point when) override {
    std::lock_guard l(mu_);
    auto key = base::to_lower(address);
    const bool added = entries_.emplace(key, suppression_entry{key, std::string(reason), when}).second;
    changed(added);
    return added;
  }
  bool remove(std::string_view address) override {
    std::lock_guard l(mu_);
    const bool removed = entries_.erase(base::to_lower(address)) > 0;
    changed(removed);
    return removed;
  }
  std::uint64_t generation() override {
    std::lock_guard l(mu_);
    return generation_;
  }
  std::optional<suppression_entry> find(std::string_view address) override {
    std::lock_guard l(mu_);
    auto it = entries_.find(base::to_lower(address));
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<suppression_entry> list(std::string_view after, std::size_t limit, std::string_view prefix) override {
    std::lock_guard l(mu_);
    std::vector<suppression_entry> out;
    const auto p = base::to_lower(prefix);
    for (auto it = entries_.upper_bound(base::to_lower(after)); it != entries_.end() && out.size() < limit; ++it)
      if (it->first.starts_with(p)) out.push_back(it->second);
    return out;
  }
  std::size_t count() override {
    std::lock_guard l(mu_);
    return entries_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::string, suppression_entry> entries_;
  std::uint64_t generation_ = 0;
  std::shared_ptr<local_change_signal> changes_;
  void changed(bool did) {
    if (!did) return;
    ++generation_;
    changes_->bump();
  }
};

struct entry {
  std::string body;
  std::string header;
  bool complete = false;
};

class mem_writer final : public spool_writer {
 public:
  mem_writer(std::string id, std::shared_ptr<entry> e, bool replaying)
      : id_(std::move(id)), e_(std::move(e)), replaying_(replaying) {}
  bool keep_replay(std::string_view) override { return replaying_; }  // kept nowhere: nothing here survives
  void write_body(std::string_view b) override { e_->body.append(b); }
  void finish(std::string_view h) override {
    e_->header = std::string(h);
    e_->complete = true;
  }
  const std::string& id() const override { return id_; }
  std::uint64_t size() const override { return e_->body.size() + e_->header.size(); }

 private:
  std::string id_;
  std::shared_ptr<entry> e_;
  bool replaying_;
};

class mem_reader final : public spool_reader {
 public:
  explicit mem_reader(std::shared_ptr<entry> e) : e_(std::move(e)) {}
  const std::string& header_section() const override { return e_->header; }
  std::uint64_t body_size() const override { return e_->body.size(); }
  std::size_t read_body(char* buf, std::size_t n) override {
    std::size_t k = std::min(n, e_->body.size() - pos_);
    std::copy_n(e_->body.data() + pos_, k, buf);
    pos_ += k;
    return k;
  }

 private:
  std::shared_ptr<entry> e_;
  std::size_t pos_ = 0;
};

class bodies final : public spool {
 public:
  explicit bodies(bool replaying) : replaying_(replaying) {}
  std::unique_ptr<spool_writer> create(std::string_view id) override {
    std::lock_guard l(mu_);
    auto e = std::make_shared<entry>();
    entries_[std::string(id)] = e;
    return std::make_unique<mem_writer>(std::string(id), e, replaying_);
  }
  void sync(std::span<spool_writer* const>) override {
    std::lock_guard l(mu_);
    ++syncs_;
  }
  std::optional<spool_position> synced_through() const override {
    std::lock_guard l(mu_);
    if (!replaying_) return std::nullopt;
    return spool_position{1, syncs_};
  }
  void remove(std::string_view id) override {
    std::lock_guard l(mu_);
    entries_.erase(std::string(id));
  }
  std::unique_ptr<spool_reader> open(std::string_view id) override {
    std::lock_guard l(mu_);
    auto it = entries_.find(std::string(id));
    if (it == entries_.end()) return nullptr;
    if (!it->second->complete) throw store_error("spool: entry " + std::string(id) + " is incomplete", false);
    return std::make_unique<mem_reader>(it->second);
  }
  std::vector<std::string> ids() override {
    std::lock_guard l(mu_);
    std::vector<std::string> out;
    for (auto& [id, e] : entries_) out.push_back(id);
    return out;
  }
  void quarantine(std::string_view id) override { remove(id); }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<entry>> entries_;
  const bool replaying_;
  std::uint64_t syncs_ = 0;
};

}  // namespace

stores open(bool replaying) {
  stores s;
  auto changes = std::make_shared<local_change_signal>();  // the accounts' and the suppression list's
  s.accounts = std::make_shared<accounts>(changes);
  auto log = std::make_shared<events>();
  s.events = log;
  s.queue = std::make_shared<queue>(log, replaying);
  s.bodies = std::make_shared<bodies>(replaying);
  s.suppressions = std::make_shared<suppressions>(changes);
  return s;
}

}  // namespace smtpsd::store::memory
