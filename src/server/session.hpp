#pragma once
// One client connection: a coroutine that owns its stream and drives
// smtp::server_fsm, reading top to bottom: admission, (TLS,) greet, then read,
// dispatch, reply. Every read has a size limit and a deadline. The machine
// decides; the session performs: TLS, credential checks, policy on the worker
// pool, message content into the submitter.
#include <atomic>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "events/event.hpp"
#include "net/stream.hpp"
#include "net/worker_pool.hpp"
#include "policy/authenticator.hpp"
#include "policy/connections.hpp"
#include "policy/reservation.hpp"
#include "policy/submission_policy.hpp"
#include "queue/feedback.hpp"
#include "server/intake.hpp"
#include "smtp/data_reader.hpp"
#include "smtp/line_buffer.hpp"
#include "smtp/server_fsm.hpp"
#include "submission/submitter.hpp"

namespace smtpsd::server {

// Services a session uses; they outlive every session.
struct services {
  net::worker_pool* pool = nullptr;
  policy::authenticator* auth = nullptr;
  policy::submission_policy* policy = nullptr;
  policy::connection_limits* connections = nullptr;
  submission::submitter* submit = nullptr;
  events::sink* events = nullptr;
  queue::feedback* feedback = nullptr;  // the inbound listener's reports
};

// The settings a session starts with (a reload changes them for new sessions).
struct session_settings {
  std::string hostname;
  config::limits limit;
  config::listener listener;
  config::bounce_settings bounces;  // the inbound listener's domain and report size
};

class session : public std::enable_shared_from_this<session> {
 public:
  session(net::tcp::socket s, std::shared_ptr<net::server_tls> tls, std::shared_ptr<const session_settings> settings,
          services svc);
  ~session();

  net::awaitable<void> run();
  // Asks the session to end: one waiting for a command gets 421 4.3.2 now;
  // one receiving a message finishes it first.
  void request_stop();
  const std::string& id() const { return id_; }

 private:
  enum class read_result { ok, closed, timeout, stopped };

  net::awaitable<void> serve();
  net::awaitable<bool> admit();
  net::awaitable<read_result> read_more(std::chrono::seconds timeout, bool command_phase);
  net::awaitable<bool> flush();
  net::awaitable<bool> start_tls();
  net::awaitable<smtp::action> perform(smtp::action a);
  net::awaitable<smtp::action> lookup_secrets();
  net::awaitable<smtp::action> authenticate();
  net::awaitable<smtp::action> check_mail();
  net::awaitable<smtp::action> check_rcpt();
  // The blocking halves of authenticate() and check_mail(), for the worker pool.
  policy::auth_result verify_credentials();
  using sender_verdict = std::variant<policy::sender_profile, policy::rejection>;
  sender_verdict check_sender(sender_verdict profile) const;
  // check_mail's synchronous parts, out of its coroutine frame (which would
  // otherwise hold a profile and a rejection twice over, above the size
  // glibc serves from its per-thread cache): the verdict from memory when
  // the profile is fresh there, and the reply to a verdict.
  std::optional<smtp::action> mail_from_memory();
  smtp::action on_sender_verdict(sender_verdict r);
  bool inbound() const { return settings_->listener.mode == config::listener_mode::inbound; }
  net::awaitable<std::optional<smtp::reply>> receive_data();
  net::awaitable<std::optional<smtp::reply>> receive_bdat();
  net::awaitable<bool> discard(std::uint64_t n);
  net::awaitable<smtp::reply> finish_message();
  std::unique_ptr<intake> start_message(smtp::data_reader::mode mode);
  void end_transaction_if_over();
  void drop_transaction();
  submission::session_facts facts() const;
  // What a refusal refused, for its reject event: the sender at MAIL, one
  // recipient at RCPT, the whole envelope after the data.
  struct refused {
    std::string from;
    std::vector<std::string> recipients;
  };
  refused whole_envelope() const;
  void refuse(const policy::rejection& r, const std::optional<refused>& what = std::nullopt);
  void log_limit_hit();

  std::string id_;
  net::stream stream_;
  std::shared_ptr<net::server_tls> tls_;
  std::shared_ptr<const session_settings> settings_;
  services svc_;
  smtp::server_fsm fsm_;
  smtp::line_buffer in_;
  std::string out_;
  std::string client_ip_;
  bool counted_ = false;  // holds a place in connection_limits
  std::string tls_version_, tls_cipher_;
  // Pointers, not optionals: a session that is idle or not logged in (most
  // of those held open) carries neither inline (about 550 octets).
  std::unique_ptr<const store::account> account_;
  std::unique_ptr<policy::reservation> txn_;  // the transaction in progress: its profile and recipients
  // Its message, announced to the group committer from MAIL on (so batches
  // wait for it) until DATA or BDAT hands it over or the transaction ends.
  submission::group_committer::arrival announced_;
  std::unique_ptr<intake> message_;         // the message being received
  bool stop_requested_ = false;
  bool waiting_for_command_ = false;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace smtpsd::server
