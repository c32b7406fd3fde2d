#pragma once
// DKIM keys per domain, in DATA_DIR/dkim/DOMAIN/ (or, with several nodes,
// in the shared store through key_files): keys.json lists each key's
// selector, algorithm and state; SELECTOR.pem holds the private key (0600,
// folder 0700). States: "active" (signs), "pending" (made by rotate-dkim,
// signs once `identity verify` has seen its record), "published" (the old
// pair after a rotation: listed for DNS, never used; removed by retire-dkim).
// The server rereads a domain's keys when keys.json changes, so the CLI's
// changes apply without a restart. Blocking file I/O.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <vector>

#include "dkim/signer.hpp"

namespace smtpsd::dkim {

struct key_info {
  std::string selector;
  algorithm alg = algorithm::ed25519;
  std::string state;  // active, pending, published
  std::string created;
  std::string record;  // the TXT value to publish
};

// Where a keystore keeps its files ("DOMAIN/keys.json", "DOMAIN/SEL.pem"):
// a folder (one node), or the store that several nodes share.
class key_files {
 public:
  virtual ~key_files() = default;
  // nullopt when absent.
  virtual std::optional<std::string> read(const std::string& path) const = 0;
  // Private: the folder writes it 0600 in 0700 folders.
  virtual void write(const std::string& path, const std::string& data) = 0;
  virtual void remove(const std::string& path) = 0;
  // Domains that have a keys.json.
  virtual std::vector<std::string> domains() const = 0;
  // Changes whenever the domain's keys.json changes; "" when it is absent.
  // Asked for every signed message: cheap.
  virtual std::string version(const std::string& domain) const = 0;
  // How a path is named in errors (the file's full path for a folder).
  virtual std::string describe(const std::string& path) const { return path; }
};

class folder_key_files final : public key_files {
 public:
  explicit folder_key_files(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::optional<std::string> read(const std::string& path) const override;
  void write(const std::string& path, const std::string& data) override;
  void remove(const std::string& path) override;
  std::vector<std::string> domains() const override;
  std::string version(const std::string& domain) const override;
  std::string describe(const std::string& path) const override { return (dir_ / path).string(); }

 private:
  std::filesystem::path dir_;
};

class keystore {
 public:
  explicit keystore(std::filesystem::path dir);
  explicit keystore(std::shared_ptr<key_files> files) : files_(std::move(files)) {}

  // A new active Ed25519 + RSA pair for a domain that has none; returns them
  // (or the keys it already has).
  std::vector<key_info> ensure(const std::string& domain, const std::string& now_rfc3339);
  std::vector<key_info> list(const std::string& domain) const;
  // A pending pair with new selectors.
  std::vector<key_info> rotate(const std::string& domain, const std::string& now_rfc3339);
  // Pending keys become active, active ones published.
  void activate_pending(const std::string& domain);
  // Drops published keys and their files; returns how many.
  std::size_t retire(const std::string& domain);
  std::vector<std::string> domains() const;

  // The keys that sign for a domain (Ed25519 first), loaded and cached until
  // the domain's keys.json changes.
  // Throws naming the file when a key is missing, unreadable or of the wrong type.
  std::vector<signing_key> signing_keys(const std::string& domain);
  // Whether a message from `domain` may be signed, without touching files or
  // the store (an I/O thread asks while the message arrives, to hash the body
  // only when it will be signed): false only when signing_keys() found none
  // for it within the last second.
  bool may_sign(const std::string& domain);
  // Loads every domain's active keys (serve refuses to start when one fails).
  void check_all();

 private:
  std::vector<key_info> read(const std::string& domain) const;
  void write(const std::string& domain, const std::vector<key_info>& keys) const;
  std::vector<key_info> make_pair(const std::string& domain, const std::string& state, const std::string& now);

  std::shared_ptr<key_files> files_;
  std::mutex mu_;
  struct cached {
    std::string version;  // "" when the domain has no keys
    std::vector<signing_key> keys;
    std::chrono::steady_clock::time_point checked;
  };
  std::map<std::string, cached> cache_;
};

}  // namespace smtpsd::dkim
