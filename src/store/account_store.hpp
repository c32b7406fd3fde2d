#pragma once
// Accounts (senders with limits) and their SMTP credentials.
// Calls block: run them on the worker pool, never on an I/O thread.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/change_signal.hpp"
#include "store/types.hpp"

namespace smtpsd::store {

class account_store {
 public:
  virtual ~account_store() = default;

  // nullopt when the name is taken.
  virtual std::optional<account> create_account(const account& a) = 0;
  virtual std::optional<account> find_account(std::string_view name) = 0;
  virtual std::optional<account> find_account(std::int64_t id) = 0;
  virtual std::vector<account> list_accounts() = 0;
  // Updates limits and suspension of the account with a.id; false when gone.
  virtual bool update_account(const account& a) = 0;
  // Removes the account with its credentials (and identities); false when absent.
  virtual bool remove_account(std::string_view name) = 0;

  // nullopt when the username is taken. scram: the SCRAM-SHA-256 secrets, or "".
  virtual std::optional<credential> create_credential(std::int64_t account_id, std::string_view username,
                                                      std::string_view hash, std::string_view scram) = 0;
  virtual std::optional<login> find_login(std::string_view username) = 0;
  virtual std::vector<credential> list_credentials(std::int64_t account_id) = 0;
  virtual bool revoke_credential(std::string_view username) = 0;

  // nullopt when the account already has it.
  virtual std::optional<identity> add_identity(std::int64_t account_id, std::string_view value, identity_kind kind) = 0;
  virtual std::vector<identity> list_identities(std::int64_t account_id) = 0;
  virtual bool remove_identity(std::int64_t account_id, std::string_view value) = 0;

  // Reputation figures, added to each account's hourly bucket in one
  // transaction (no generation bump: nothing cached depends on them).
  virtual void add_reputation(std::span<const reputation_delta> deltas) = 0;
  // An account's buckets from `since` on, newest first.
  virtual std::vector<reputation_bucket> reputation(std::int64_t account_id, time_point since) = 0;

  // Tokens of the HTTP API. create: false when the name is taken.
  virtual bool create_token(const api_token& t) = 0;
  virtual std::optional<api_token> find_token(std::string_view hash) = 0;
  virtual std::vector<api_token> list_tokens() = 0;
  virtual bool revoke_token(std::string_view name) = 0;

  // Grows with every change made through this interface, by any process
  // sharing the store: a server polls it to drop what it cached.
  virtual std::uint64_t generation() = 0;
  // Moves with every change generation() counts and every change to the
  // suppression list, and is read without I/O (see change_signal.hpp); null
  // when changes also come from other machines and only the store can say.
  virtual const change_signal* changes() const { return nullptr; }

  // 32 random bytes made once for the installation and then the same for
  // every process and node sharing the store: keys for values that must
  // agree between nodes and restarts (SCRAM's made-up salts for unknown users).
  virtual std::string installation_secret() = 0;

  // Small files every node must see the same (the DKIM keystore's private
  // keys and keys.json), by path. A write or removal bumps generation().
  // Private: they hold private keys.
  virtual std::optional<std::string> read_shared_file(std::string_view path) = 0;
  virtual void write_shared_file(std::string_view path, std::string_view data) = 0;
  virtual void remove_shared_file(std::string_view path) = 0;
  // Paths that end with `suffix`, in order.
  virtual std::vector<std::string> shared_files(std::string_view suffix) = 0;
};

}  // namespace smtpsd::store
