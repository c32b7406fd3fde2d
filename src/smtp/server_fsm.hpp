#pragma once
// The server side of an SMTP submission session as a pure state machine.
//
// The session coroutine feeds it lines and the results of the work it asks
// for (TLS, credential checks, policy, message content) and writes out what
// it appends to `out`. Commands dispatch through a table whose flags say what
// each one needs; the machine never does I/O, never reads a clock.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sasl/mechanism.hpp"
#include "smtp/address.hpp"
#include "smtp/command.hpp"
#include "smtp/params.hpp"
#include "smtp/reply.hpp"

namespace smtpsd::smtp {

struct server_settings {
  std::string hostname = "localhost";
  bool starttls_offered = false;  // a STARTTLS listener (before TLS)
  bool tls_active = false;        // an implicit-TLS listener
  bool inbound = false;           // the return-path listener: mail without AUTH, no AUTH offered
  std::uint64_t max_message_bytes = 41943040;
  unsigned max_recipients = 50;
  unsigned max_errors = 10;
};

struct recipient {
  mailbox box;
  rcpt_params params;
};

struct envelope {
  mailbox from;
  mail_params params;
  std::vector<recipient> rcpts;
};

enum class action {
  read,            // read the next command line
  start_tls,       // flush, drop all buffered input, handshake, then on_tls_started()
  lookup_secrets,  // find the SCRAM secrets of pending_credentials().username, then on_scram_secrets()
                   // (or on_auth_result() when throttled or the store fails)
  authenticate,    // verify pending_credentials() (or, with pending_proof(), only the account), then on_auth_result()
  check_mail,      // decide on pending_mail(), then on_mail_verdict()
  check_rcpt,      // decide on pending_rcpt(), then on_rcpt_verdict()
  receive_data,    // read dot-terminated content, then on_message_result()
  receive_bdat,    // read bdat().size octets into the message, then on_bdat_chunk()
  discard_bdat,    // read and drop bdat().size octets; the reply is already written
  close,           // flush and close
};

struct auth_outcome {
  enum class kind { success, failure, throttled, temporary } k = kind::failure;
  std::string account;
};

// A policy decision on MAIL or RCPT: accept, or reject with a reply.
struct verdict {
  std::optional<reply> reject;
  bool close = false;
};

// A limit the machine enforced itself (SIZE, recipients), for the log.
struct limit_hit {
  reply r;
  std::string rule;
  std::uint64_t value = 0;
  std::uint64_t limit = 0;
  std::string address;  // the sender (SIZE at MAIL) or recipient (RCPT) refused
};

class server_fsm {
 public:
  explicit server_fsm(server_settings s);
  ~server_fsm();
  server_fsm(server_fsm&&) noexcept;
  server_fsm& operator=(server_fsm&&) noexcept;

  void greet(std::string& out);
  action on_line(std::string_view line, std::string& out);
  action on_line_too_long(std::string& out);
  action on_bare_lf(std::string& out);
  void on_tls_started();
  // What the TLS connection offers for SCRAM-SHA-256-PLUS; set after every handshake.
  void set_channel_binding(sasl::channel_binding cb) { cb_ = std::move(cb); }
  // The user's secrets (made-up ones for an unknown user) and a fresh nonce.
  action on_scram_secrets(const sasl::scram_secrets& s, std::string_view server_nonce, std::string& out);
  action on_auth_result(const auth_outcome& r, std::string& out);
  action on_mail_verdict(const verdict& v, std::string& out);
  action on_rcpt_verdict(const verdict& v, std::string& out);
  // A BDAT chunk was read into the message. On LAST the caller completes the
  // message and calls on_message_result instead.
  action on_bdat_chunk(std::string& out);
  // The final reply for DATA or BDAT LAST (queued, or rejected).
  action on_message_result(const reply& r, std::string& out);
  // Stops the session with a reply (timeouts, shutdown).
  action abort(const reply& r, std::string& out);

  std::size_t line_limit() const;
  bool tls_active() const { return tls_active_; }
  bool authenticated() const { return !account_.empty(); }
  // May start a transaction: logged in, or on the inbound listener.
  bool may_mail() const { return authenticated() || settings_.inbound; }
  const std::string& account() const { return account_; }
  const std::string& helo_name() const { return helo_; }
  bool esmtp() const { return esmtp_; }
  const envelope& transaction() const;
  const sasl::credentials& pending_credentials() const;
  // Set when the mechanism checked the password itself (SCRAM): whether the
  // proof held, and why not.
  const std::optional<bool>& pending_proof() const;
  const std::string& proof_failure() const;
  const mail_command& pending_mail() const;
  const rcpt_command& pending_rcpt() const;
  const bdat_command& bdat() const { return bdat_; }
  bool bdat_started() const { return bdat_started_; }
  std::uint64_t max_message_bytes() const { return max_message_bytes_; }
  void set_max_message_bytes(std::uint64_t n) { max_message_bytes_ = n; }
  unsigned errors() const { return errors_; }
  std::optional<limit_hit> take_limit_hit();
  bool in_transaction() const { return has_mail_; }

 private:
  friend struct command_table;
  action fail(const reply& r, std::string& out);  // a client error: counted
  void reset_transaction();

  action do_ehlo(const command& c, std::string& out);
  action do_helo(const command& c, std::string& out);
  action do_mail(const command& c, std::string& out);
  action do_rcpt(const command& c, std::string& out);
  action do_data(const command& c, std::string& out);
  action do_bdat(const command& c, std::string& out);
  action do_rset(const command& c, std::string& out);
  action do_noop(const command& c, std::string& out);
  action do_quit(const command& c, std::string& out);
  action do_vrfy(const command& c, std::string& out);
  action do_expn(const command& c, std::string& out);
  action do_help(const command& c, std::string& out);
  action do_starttls(const command& c, std::string& out);
  action do_auth(const command& c, std::string& out);
  action auth_continue(std::string_view line, std::string& out);
  action auth_step(const sasl::step_result& r, std::string& out);
  struct transaction_state;
  struct auth_state;
  transaction_state& txn_state();
  auth_state& auth();

  server_settings settings_;
  bool tls_active_;
  bool greeted_ = false;
  bool esmtp_ = false;
  std::string helo_;
  std::string account_;
  std::uint64_t max_message_bytes_;
  unsigned errors_ = 0;

  // What only a transaction or an AUTH exchange needs is allocated when one
  // starts and freed when it ends, so that an idle connection does not carry
  // it (about 600 octets; docs/operations.md, "Memory").
  bool has_mail_ = false;
  bool bdat_started_ = false;
  bdat_command bdat_;  // also for a refused chunk, which is read and dropped outside any transaction
  std::unique_ptr<transaction_state> txn_;  // from MAIL until the transaction ends
  std::unique_ptr<limit_hit> limit_hit_;
  std::unique_ptr<sasl::mechanism> sasl_;  // non-null while an AUTH exchange is in progress
  std::unique_ptr<auth_state> auth_;       // from AUTH until its result
  sasl::channel_binding cb_;
};

}  // namespace smtpsd::smtp
