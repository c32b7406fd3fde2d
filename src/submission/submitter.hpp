#pragma once
// Turns accepted content into a queued message: streams the body to the
// spool while it arrives (never holding a 40 MB message in memory), then
// applies the RFC 6409 fix-ups to the header section, writes it, and hands
// the entry to the group committer. The reply for the client comes from here.
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "base/clock.hpp"
#include "base/keyed_hash.hpp"
#include "base/random.hpp"
#include "dkim/keystore.hpp"
#include "events/event.hpp"
#include "message/fixups.hpp"
#include "message/headers.hpp"
#include "policy/rejection.hpp"
#include "smtp/reply.hpp"
#include "smtp/server_fsm.hpp"
#include "store/stores.hpp"
#include "submission/group_committer.hpp"
#include "submission/queue_writer.hpp"
#include "submission/recent_submissions.hpp"

namespace smtpsd::submission {

// What the session knows about the client.
struct session_facts {
  std::string session_id;
  std::string helo;
  std::string client_ip;
  std::string tls_version;
  std::string tls_cipher;
  bool esmtp = true;
  std::int64_t account_id = 0;
  std::string account;
  std::string configuration_set;  // the account's default
};

// The duplicate guard's key for a message (message_builder::duplicate).
using duplicate_key = base::keyed_hash::digest;

// The after-data policy: the parsed header section, accepted or refused.
using header_check = std::function<std::optional<policy::rejection>(const std::vector<message::header_field>&)>;

struct settings {
  std::string hostname;
  std::size_t max_header_bytes = 1024 * 1024;
  std::shared_ptr<dkim::keystore> dkim;  // sign for the From domain when it has keys
  std::set<std::string> configuration_sets;  // the names X-SES-CONFIGURATION-SET may use
  // A resubmission (same account, Message-ID and content) within this time
  // gets the first queue id and is not queued again; 0: off.
  std::chrono::seconds duplicate_window{600};
};

class message_builder {
 public:
  message_builder(std::string queue_id, std::shared_ptr<store::spool> spool, const smtp::envelope& env,
                  const session_facts& facts, const settings& s, base::time_point now, header_check check);
  ~message_builder();

  // Content as it arrives (already unstuffed). Never throws: a storage
  // failure is remembered and answered by seal().
  void append(std::string_view content);
  // After the last content: the header check, fix-ups and, when the From:
  // domain has keys, the DKIM signature (run that on the worker pool:
  // will_sign()). The header section goes to the spool with the commit. A
  // rejection means the message is refused and nothing will be queued.
  std::optional<policy::rejection> seal();
  // The body is being hashed because the From: domain has keys: seal() signs.
  bool will_sign() const { return body_hash_ != nullptr; }
  // Drops the spool entry.
  void abort();

  const std::string& queue_id() const { return meta_.id; }
  const store::queued_message& meta() const { return meta_; }
  // For the commit, the builder's last use: meta() and header_section() are empty after.
  store::queued_message take_meta() { return std::move(meta_); }
  std::string take_header_section() { return std::move(header_section_); }
  std::unique_ptr<store::spool_writer> take_body() { return std::move(body_); }
  void committed() { done_ = true; }
  // The committer's notice that this message is on its way (submitter::begin).
  void set_arrival(group_committer::arrival a) { arrival_ = std::move(a); }
  group_committer::arrival take_arrival() { return std::move(arrival_); }
  // After seal(): the header section as it leaves (fixed up, signed).
  const std::string& header_section() const { return header_section_; }
  // After seal(): a digest of the account, the Message-ID as submitted and
  // the content as submitted; none when the message had no Message-ID (or
  // the duplicate guard is off).
  const std::optional<duplicate_key>& duplicate() const { return duplicate_key_; }

 private:
  void storage_failed(const std::exception& e);
  std::optional<policy::rejection> take_ses_fields(const message::fixed_headers& fixed);
  std::optional<policy::rejection> sign(std::string& section);
  void decide_signing();
  void make_duplicate_key(const std::vector<message::header_field>& fields);
  const std::optional<std::vector<message::header_field>>& header_fields();

  store::queued_message meta_;
  std::shared_ptr<store::spool> spool_;
  std::unique_ptr<store::spool_writer> body_;
  session_facts facts_;
  const settings& settings_;
  base::time_point now_;
  message::header_splitter splitter_;
  header_check check_;
  std::optional<policy::rejection> failure_;
  std::unique_ptr<dkim::body_hash> body_hash_;
  // The duplicate guard's: keyed XXH3-128, a tenth of SHA-256's cost (which
  // was 1.5 % of the server's CPU under `send`; BLAKE2b, before it, a tenth
  // for 100 KiB messages).
  std::unique_ptr<base::keyed_hash> content_digest_;
  std::optional<duplicate_key> duplicate_key_;
  std::string header_section_;
  // The header section parsed once, by whichever of decide_signing and seal
  // needs it first (views into splitter_, which no longer changes by then).
  std::optional<std::vector<message::header_field>> fields_;
  bool fields_parsed_ = false;
  std::uint64_t body_bytes_ = 0;
  bool signing_decided_ = false;
  bool done_ = false;
  group_committer::arrival arrival_;
};

class submitter final : public queue_writer {
 public:
  submitter(store::stores stores, group_committer& committer, settings s, const base::clock& clock,
            base::random_source& random, events::sink* events = nullptr);

  // A transaction has begun (MAIL accepted): the committer counts on its
  // message until the arrival is handed to begin() or dropped.
  group_committer::arrival announce() { return committer_.expect(); }
  // Starts a message for the transaction, announced by `announced` (else
  // announced now). Throws store_error when the spool cannot take it (the
  // session answers 451/452).
  std::unique_ptr<message_builder> begin(const smtp::envelope& env, const session_facts& facts,
                                         header_check check = {}, group_committer::arrival announced = {});
  // Queues a sealed message. done(nullopt) runs on the committer thread once
  // the message is durable, done(why not) when it could not be committed.
  void commit(std::unique_ptr<message_builder> m, std::function<void(const commit_result&)> done);

  // The duplicate guard: the queue id a message with this key got within
  // the window, and the record of a new one.
  std::optional<std::string> first_submission(const duplicate_key& key);
  void remember(const duplicate_key& key, const std::string& queue_id);

  void enqueue_generated(const generated_message& m, std::function<void(const std::string&)> done = {}) override;
  void on_committed(committed_mail* to) override;

  const settings& config() const { return settings_; }

 private:
  events::event send_event(const store::queued_message& m, const std::string& header_section);

  events::sink* events_;
  store::stores stores_;
  group_committer& committer_;
  settings settings_;
  const base::clock& clock_;
  base::random_source& random_;
  std::mutex recent_mu_;
  static constexpr std::size_t max_remembered = 200000;  // keys the duplicate guard holds at most
  recent_submissions recent_{max_remembered};
};

}  // namespace smtpsd::submission
