#pragma once
// The embedded backend: SQLite for accounts and queue metadata, a spool
// folder for bodies. Nothing else to run.
#include <filesystem>
#include <memory>

#include "store/embedded/sqlite.hpp"
#include "store/stores.hpp"

namespace smtpsd::store::embedded {

class sqlite_account_store final : public account_store {
 public:
  // changes: moved after each change this store commits (and the suppression list's).
  sqlite_account_store(std::shared_ptr<database> db, std::shared_ptr<change_signal> changes)
      : db_(std::move(db)), changes_(std::move(changes)) {}
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
  std::uint64_t generation() override;
  const change_signal* changes() const override { return changes_.get(); }
  std::string installation_secret() override;
  void add_reputation(std::span<const reputation_delta> deltas) override;
  std::vector<reputation_bucket> reputation(std::int64_t account_id, time_point since) override;
  std::optional<std::string> read_shared_file(std::string_view path) override;
  void write_shared_file(std::string_view path, std::string_view data) override;
  void remove_shared_file(std::string_view path) override;
  std::vector<std::string> shared_files(std::string_view suffix) override;

 private:
  // The generation's move, the commit, then the signal.
  void commit_change(transaction& t, connection& c);
  std::shared_ptr<database> db_;
  std::shared_ptr<change_signal> changes_;
};

// Appends events inside the caller's transaction; returns their seqs.
std::vector<std::int64_t> append_events(connection& c, std::span<const stored_event> events);

class sqlite_event_store final : public event_store {
 public:
  explicit sqlite_event_store(std::shared_ptr<database> db) : db_(std::move(db)) {}
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
  bool hold_role(std::string_view, time_point, time_point) override { return true; }  // one node

 private:
  std::shared_ptr<database> db_;
};

class sqlite_queue_store final : public queue_store {
 public:
  explicit sqlite_queue_store(std::shared_ptr<database> db) : db_(std::move(db)) {}
  std::vector<std::int64_t> enqueue(std::span<const queued_message> batch, std::span<const stored_event> events,
                                    enqueue_lease lease, std::optional<spool_cover> cover) override;
  std::optional<spool_position> replayed_through() override;
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
};

class sqlite_suppression_store final : public suppression_store {
 public:
  sqlite_suppression_store(std::shared_ptr<database> db, std::shared_ptr<change_signal> changes)
      : db_(std::move(db)), changes_(std::move(changes)) {}
  bool add(std::string_view address, std::string_view reason, time_point when) override;
  bool remove(std::string_view address) override;
  std::optional<suppression_entry> find(std::string_view address) override;
  std::vector<suppression_entry> list(std::string_view after, std::size_t limit, std::string_view prefix) override;
  std::size_t count() override;
  std::uint64_t generation() override;

 private:
  template <class F>
  bool changing_list(F&& f);
  std::shared_ptr<database> db_;
  std::shared_ptr<change_signal> changes_;
};

// Opens DATA_DIR/smtpsd.db, DATA_DIR/spool and the change signal
// DATA_DIR/smtpsd.changes, creating them (mode 0700 and 0600).
stores open(const std::filesystem::path& data_dir);

}  // namespace smtpsd::store::embedded
