#pragma once
// The PostgreSQL backend: every store of the embedded one (accounts, queue,
// bodies, suppression, events) in one database that several nodes share.
// Delivery claims are leases owned by a node and fenced by a token.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "store/postgres/pg.hpp"
#include "store/stores.hpp"

namespace smtpsd::store::postgres {

class pg_account_store final : public account_store {
 public:
  explicit pg_account_store(std::shared_ptr<database> db) : db_(std::move(db)) {}
  std::optional<account> create_account(const account& a) override;
  std::optional<account> find_account(std::string_view name) override;
  std::optional<account> find_account(std::int64_t id) override;
  std::vector<account> list_accounts() override;
  bool update_account(const account& a) override;
  bool remove_account(std::string_view name) override;
  std::optional<credential> create_credential(std::int64_t account_id, std::string_view username,
                                              std::string_view hash, std::string_view scram) override;
  std::optional<login> find_login(std::string_view username) override;
  std::vector<credential> list_credentials(std::int64_t account_id) override;
  bool revoke_credential(std::string_view username) override;
  std::optional<identity> add_identity(std::int64_t account_id, std::string_view value, identity_kind kind) override;
  std::vector<identity> list_identities(std::int64_t account_id) override;
  bool remove_identity(std::int64_t account_id, std::string_view value) override;
  bool create_token(const api_token& t) override;
  std::optional<api_token> find_token(std::string_view hash) override;
  std::vector<api_token> list_tokens() override;
  bool revoke_token(std::string_view name) override;
  // Read from the database at most every 500 ms (every MAIL asks): a change
  // made on any node reaches every other within a second.
  std::uint64_t generation() override;
  std::string installation_secret() override;
  void add_reputation(std::span<const reputation_delta> deltas) override;
  std::vector<reputation_bucket> reputation(std::int64_t account_id, time_point since) override;
  std::optional<std::string> read_shared_file(std::string_view path) override;
  void write_shared_file(std::string_view path, std::string_view data) override;
  void remove_shared_file(std::string_view path) override;
  std::vector<std::string> shared_files(std::string_view suffix) override;

 private:
  template <class F>
  auto changing(F&& f);
  std::shared_ptr<database> db_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::int64_t> read_at_ms_{INT64_MIN / 2};
};

// Appends events inside the caller's transaction, in commit order.
std::vector<std::int64_t> append_events(connection& c, std::span<const stored_event> events);

class pg_event_store final : public event_store {
 public:
  pg_event_store(std::shared_ptr<database> db, std::string node) : db_(std::move(db)), node_(std::move(node)) {}
  std::vector<std::int64_t> append(std::span<const stored_event> events) override;
  std::vector<stored_event> read_after(std::int64_t seq, std::size_t limit) override;
  std::int64_t last_seq() override;
  std::vector<stored_event> query(const event_query& q) override;
  std::optional<std::int64_t> cursor(std::string_view consumer) override;
  void set_cursor(std::string_view consumer, std::int64_t seq) override;
  void add_dead_letter(std::string_view consumer, std::int64_t seq, std::string_view reason, time_point when) override;
  std::vector<dead_letter> dead_letters(std::string_view consumer) override;
  std::size_t request_redelivery(std::string_view consumer, std::string_view event_id) override;
  void remove_dead_letter(std::string_view consumer, std::int64_t seq) override;
  std::size_t prune(time_point before) override;
  void prune_statistics(time_point before) override;
  std::vector<stat_bucket> statistics(time_point since, std::string_view account) override;
  bool hold_role(std::string_view role, time_point now, time_point until) override;

 private:
  std::shared_ptr<database> db_;
  std::string node_;
};

class pg_queue_store final : public queue_store {
 public:
  // node: this node's name, recorded with each lease it takes.
  pg_queue_store(std::shared_ptr<database> db, std::string node) : db_(std::move(db)), node_(std::move(node)) {}
  // Its commits are durable on their own: a cover changes nothing.
  std::vector<std::int64_t> enqueue(std::span<const queued_message> batch, std::span<const stored_event> events,
                                    enqueue_lease lease, std::optional<spool_cover> cover) override;
  std::vector<usage_bucket> usage(std::int64_t account_id, time_point since) override;
  std::optional<queued_message> get(std::string_view id) override;
  std::vector<queued_message> list(const queue_query& q) override;
  bool remove(std::string_view id) override;
  std::size_t count() override;
  std::vector<std::string> ids() override;
  std::size_t retry(std::string_view id, time_point now) override;
  std::vector<queued_message> claim_due(time_point now, time_point lease_until, std::size_t limit) override;
  std::vector<bool> renew_leases(std::span<const lease_ref> held, time_point lease_until) override;
  std::vector<recorded> record_attempts(std::span<const queued_message> batch,
                                        std::span<const std::vector<stored_event>> events) override;
  void release_leases() override;

 private:
  std::shared_ptr<database> db_;
  std::string node_;
};

class pg_suppression_store final : public suppression_store {
 public:
  explicit pg_suppression_store(std::shared_ptr<database> db) : db_(std::move(db)) {}
  bool add(std::string_view address, std::string_view reason, time_point when) override;
  bool remove(std::string_view address) override;
  std::optional<suppression_entry> find(std::string_view address) override;
  std::vector<suppression_entry> list(std::string_view after, std::size_t limit, std::string_view prefix) override;
  std::size_t count() override;
  std::uint64_t generation() override;

 private:
  std::shared_ptr<database> db_;
};

// Bodies as rows: the header section in `bodies`, the body in 256 KiB
// `body_chunks`, written as it streams (by a thread of the spool's own, so
// the session's I/O thread never waits; at most two chunks in flight per
// message), so a 40 MB message is never one allocation. An entry counts only
// once its `bodies` row is committed, in sync().
class chunk_uploader;

class pg_spool final : public spool {
 public:
  explicit pg_spool(std::shared_ptr<database> db);
  std::unique_ptr<spool_writer> create(std::string_view id) override;
  void sync(std::span<spool_writer* const> entries) override;
  void remove(std::string_view id) override;
  std::unique_ptr<spool_reader> open(std::string_view id) override;
  std::vector<std::string> ids() override;
  void quarantine(std::string_view id) override;
  bool shared() const override { return true; }

  static constexpr std::size_t chunk_size = 256 * 1024;

 private:
  std::shared_ptr<database> db_;
  std::shared_ptr<chunk_uploader> uploader_;
};

// Connects (libpq's message when it cannot), migrates, and returns the
// stores. node names this node in delivery leases.
stores open(const std::string& url, const std::string& node, std::size_t pool_size = 8);

}  // namespace smtpsd::store::postgres
