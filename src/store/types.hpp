#pragma once
// Plain records shared by the store interfaces and their callers.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/envelope.hpp"

namespace smtpsd::store {

using base::time_point;

// A store that cannot do what was asked. Transient errors (locked, I/O,
// connection lost) may succeed later; callers answer 4xx for them.
class store_error : public std::runtime_error {
 public:
  explicit store_error(const std::string& what, bool transient = true)
      : std::runtime_error(what), transient_(transient) {}
  bool transient() const { return transient_; }

 private:
  bool transient_;
};

// The disk (or database) is full: new messages get 452 4.3.1.
class storage_full : public store_error {
 public:
  using store_error::store_error;
};

struct account {
  std::int64_t id = 0;
  std::string name;
  std::optional<double> max_send_rate;  // recipients per second; nullopt = configured default
  std::optional<std::uint64_t> max_24h;  // recipients per rolling 24 hours
  std::optional<std::uint64_t> max_message_bytes;
  bool suspended = false;
  time_point created{};
  std::string configuration_set;  // used when a message names none; "" = none
  // SPEC §9. The sandbox: only to its own identities and allowed_recipients,
  // at most 1 recipient per second and 200 per 24 hours.
  bool sandbox = false;
  std::vector<std::string> allowed_recipients;  // lower case, sorted
  std::string paused;              // why sending is paused ("" = sending); cleared by `account resume`
  std::string reputation_warning;  // the reputation warning in effect ("" = none)
  time_point reputation_since{};   // bounce and complaint rates count from here (the last resume)
};

// An account's sending outcomes in one hour (its reputation's raw figures):
// recipients whose delivery ended, hard bounces (in the SMTP transaction or
// returned later) and complaints.
struct reputation_bucket {
  time_point hour{};
  std::uint64_t recipients = 0;
  std::uint64_t bounces = 0;
  std::uint64_t complaints = 0;
};

struct reputation_delta {
  std::int64_t account_id = 0;
  reputation_bucket counts;
};

struct credential {
  std::int64_t id = 0;
  std::string username;
  std::int64_t account_id = 0;
  std::string hash;  // libsodium Argon2id string
  std::string scram;  // SCRAM-SHA-256 secrets (sasl::format_scram_secrets); "" when made before SCRAM
  time_point created{};
};

// A token of the HTTP API: only a hash of it is kept.
struct api_token {
  std::string name;
  std::string hash;  // hex SHA-256 of the token
  bool read_only = false;
  time_point created{};
};

// A credential with the account it logs in to.
struct login {
  credential cred;
  account acct;
};

enum class identity_kind { domain, address };

// A domain (every address at it) or one address an account may send as.
// Stored normalised: the domain in lower-case A-labels, the local part as given.
struct identity {
  std::int64_t id = 0;
  std::int64_t account_id = 0;
  std::string value;
  identity_kind kind = identity_kind::domain;
  time_point created{};
};

struct suppression_entry {
  std::string address;  // lower case
  std::string reason;   // "manual", or the bounce's reply
  time_point created{};
};

// Recipients an account had queued in one minute (for the rolling 24 hours).
struct usage_bucket {
  time_point minute{};
  std::uint64_t count = 0;
};

enum class rcpt_status { queued, deferred, delivered, failed };
std::string_view to_string(rcpt_status s);

struct queued_recipient {
  std::string address;
  std::string orcpt;  // "rfc822;xtext" or empty
  base::dsn_notify notify;
  rcpt_status status = rcpt_status::queued;
  unsigned attempts = 0;
  std::optional<time_point> next_attempt;
  std::string last_response;
  std::optional<time_point> delay_warned;  // when the last delay DSN for it went out
};

inline bool pending(rcpt_status s) { return s == rcpt_status::queued || s == rcpt_status::deferred; }

struct queued_message {
  std::string id;
  std::int64_t account_id = 0;
  std::string account;
  std::string from;  // envelope sender
  std::uint64_t size = 0;
  time_point created{};
  std::string message_id;  // the Message-ID header
  std::string envid;       // DSN ENVID (xtext)
  base::dsn_ret ret = base::dsn_ret::unspecified;
  base::body_type body = base::body_type::unspecified;
  bool smtputf8 = false;
  base::tls_demand tls = base::tls_demand::policy;  // REQUIRETLS, or TLS-Required: No
  std::vector<queued_recipient> recipients;
  std::string configuration_set;  // X-SES-CONFIGURATION-SET or the account's default
  std::vector<std::pair<std::string, std::string>> tags;  // X-SES-MESSAGE-TAGS, in order
  std::string client_ip;  // who submitted it (SES's ses:source-ip tag)
  // The fencing token of the delivery lease it was claimed with (0 = none):
  // an outcome is recorded only while the token is still the message's.
  std::int64_t lease_token = 0;
};

// Tags as one line of text ("k=v\nk2=v2"; keys and values are [A-Za-z0-9_-]).
std::string encode_tags(const std::vector<std::pair<std::string, std::string>>& tags);
std::vector<std::pair<std::string, std::string>> decode_tags(std::string_view text);
// A list of addresses as one text column, one per line.
std::string encode_lines(const std::vector<std::string>& lines);
std::vector<std::string> decode_lines(std::string_view text);

}  // namespace smtpsd::store
