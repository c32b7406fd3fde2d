#include "smtp/server_fsm.hpp"

#include <array>

#include "base/base64.hpp"
#include "base/strings.hpp"
#include "smtp/replies.hpp"

namespace smtpsd::smtp {

namespace {

constexpr std::size_t command_line_limit = 512;  // RFC 5321 §4.5.3.1.4, with CRLF
constexpr std::size_t auth_line_limit = 12288;   // RFC 4954 §4

enum flag : unsigned {
  needs_greeting = 1u << 0,  // EHLO/HELO first
  needs_auth = 1u << 1,      // a successful AUTH first
  needs_mail = 1u << 2,      // inside a transaction
  no_transaction = 1u << 3,  // not inside a transaction
  not_in_bdat = 1u << 4,     // not between BDAT chunks
};

}  // namespace

struct command_table {
  using handler = action (server_fsm::*)(const command&, std::string&);
  struct rule {
    verb v;
    unsigned flags;
    handler h;
  };
  static constexpr std::array<rule, 14> rules = {{
      {verb::ehlo, not_in_bdat, &server_fsm::do_ehlo},
      {verb::helo, not_in_bdat, &server_fsm::do_helo},
      {verb::mail, needs_greeting | needs_auth | no_transaction, &server_fsm::do_mail},
      {verb::rcpt, needs_greeting | needs_auth | needs_mail | not_in_bdat, &server_fsm::do_rcpt},
      {verb::data, needs_greeting | needs_auth | needs_mail | not_in_bdat, &server_fsm::do_data},
      {verb::bdat, 0, &server_fsm::do_bdat},  // checks its own preconditions: it must always consume its octets
      {verb::rset, 0, &server_fsm::do_rset},
      {verb::noop, 0, &server_fsm::do_noop},
      {verb::quit, 0, &server_fsm::do_quit},
      {verb::vrfy, not_in_bdat, &server_fsm::do_vrfy},
      {verb::expn, not_in_bdat, &server_fsm::do_expn},
      {verb::help, not_in_bdat, &server_fsm::do_help},
      {verb::starttls, needs_greeting | no_transaction | not_in_bdat, &server_fsm::do_starttls},
      {verb::auth, needs_greeting | no_transaction | not_in_bdat, &server_fsm::do_auth},
  }};
};

struct server_fsm::transaction_state {
  envelope txn;  // valid once has_mail_
  mail_command pending_mail;
  rcpt_command pending_rcpt;
};

struct server_fsm::auth_state {
  sasl::credentials creds;
  std::optional<bool> proof;
  std::string proof_failure;
};

namespace {
// What the accessors show while there is no transaction or AUTH exchange.
const envelope no_envelope{};
const mail_command no_mail{};
const rcpt_command no_rcpt{};
const sasl::credentials no_credentials{};
const std::optional<bool> no_proof{};
const std::string no_failure{};
}  // namespace

server_fsm::server_fsm(server_settings s)
    : settings_(std::move(s)), tls_active_(settings_.tls_active), max_message_bytes_(settings_.max_message_bytes) {}
server_fsm::~server_fsm() = default;
server_fsm::server_fsm(server_fsm&&) noexcept = default;
server_fsm& server_fsm::operator=(server_fsm&&) noexcept = default;

server_fsm::transaction_state& server_fsm::txn_state() {
  if (!txn_) txn_ = std::make_unique<transaction_state>();
  return *txn_;
}

server_fsm::auth_state& server_fsm::auth() {
  if (!auth_) auth_ = std::make_unique<auth_state>();
  return *auth_;
}

const envelope& server_fsm::transaction() const { return txn_ ? txn_->txn : no_envelope; }
const mail_command& server_fsm::pending_mail() const { return txn_ ? txn_->pending_mail : no_mail; }
const rcpt_command& server_fsm::pending_rcpt() const { return txn_ ? txn_->pending_rcpt : no_rcpt; }
const sasl::credentials& server_fsm::pending_credentials() const { return auth_ ? auth_->creds : no_credentials; }
const std::optional<bool>& server_fsm::pending_proof() const { return auth_ ? auth_->proof : no_proof; }
const std::string& server_fsm::proof_failure() const { return auth_ ? auth_->proof_failure : no_failure; }

std::optional<limit_hit> server_fsm::take_limit_hit() {
  if (!limit_hit_) return std::nullopt;
  std::optional<limit_hit> h{std::move(*limit_hit_)};
  limit_hit_.reset();
  return h;
}

void server_fsm::greet(std::string& out) { replies::banner(settings_.hostname).append_to(out); }

std::size_t server_fsm::line_limit() const { return sasl_ ? auth_line_limit : command_line_limit; }

action server_fsm::fail(const reply& r, std::string& out) {
  r.append_to(out);
  if (++errors_ >= settings_.max_errors) {
    replies::too_many_errors().append_to(out);
    return action::close;
  }
  return action::read;
}

action server_fsm::abort(const reply& r, std::string& out) {
  r.append_to(out);
  return action::close;
}

void server_fsm::reset_transaction() {
  has_mail_ = false;
  txn_.reset();
  bdat_started_ = false;
  bdat_ = bdat_command{};
}

action server_fsm::on_line_too_long(std::string& out) {
  if (sasl_) {
    sasl_.reset();
    return fail(replies::bad_auth_data(), out);
  }
  return fail(replies::line_too_long(), out);
}

action server_fsm::on_bare_lf(std::string& out) {
  sasl_.reset();
  return fail(replies::bare_lf_in_command(), out);
}

action server_fsm::on_line(std::string_view line, std::string& out) {
  if (sasl_) return auth_continue(line, out);
  const command c = parse_command(line);
  if (c.v == verb::unknown) return fail(replies::unrecognized_command(), out);
  for (const auto& r : command_table::rules) {
    if (r.v != c.v) continue;
    if ((r.flags & not_in_bdat) && bdat_started_) return fail(replies::bad_sequence("BDAT transfer in progress"), out);
    if ((r.flags & needs_greeting) && !greeted_) return fail(replies::bad_sequence("send EHLO first"), out);
    if ((r.flags & needs_auth) && !may_mail()) return fail(replies::auth_required(), out);
    if ((r.flags & needs_mail) && !has_mail_) return fail(replies::bad_sequence("need MAIL command"), out);
    if ((r.flags & no_transaction) && has_mail_) return fail(replies::bad_sequence("transaction in progress"), out);
    return (this->*r.h)(c, out);
  }
  return fail(replies::unrecognized_command(), out);
}

action server_fsm::do_ehlo(const command& c, std::string& out) {
  auto name = parse_helo(c.args);
  if (!name) return fail(replies::syntax_error("EHLO hostname"), out);
  reset_transaction();
  greeted_ = true;
  esmtp_ = true;
  helo_ = *name;
  reply r{250, "", {settings_.hostname}};
  r.lines.push_back("PIPELINING");
  r.lines.push_back("SIZE " + std::to_string(settings_.max_message_bytes));
  r.lines.push_back("ENHANCEDSTATUSCODES");
  r.lines.push_back("8BITMIME");
  r.lines.push_back("SMTPUTF8");
  r.lines.push_back("CHUNKING");
  r.lines.push_back("DSN");
  if (tls_active_ && !settings_.inbound) r.lines.push_back("REQUIRETLS");  // RFC 8689 §4.1: only inside TLS
  if (settings_.starttls_offered && !tls_active_) r.lines.push_back("STARTTLS");
  if (tls_active_ && !authenticated() && !settings_.inbound)
    r.lines.push_back("AUTH " + std::string(sasl::advertised_mechanisms(cb_)));
  r.append_to(out);
  return action::read;
}

action server_fsm::do_helo(const command& c, std::string& out) {
  auto name = parse_helo(c.args);
  if (!name) return fail(replies::syntax_error("HELO hostname"), out);
  reset_transaction();
  greeted_ = true;
  esmtp_ = false;
  helo_ = *name;
  reply{250, "", {settings_.hostname}}.append_to(out);
  return action::read;
}

action server_fsm::do_mail(const command& c, std::string& out) {
  auto parsed = parse_mail(c.args);
  if (auto* r = std::get_if<reply>(&parsed)) return fail(*r, out);
  auto& m = std::get<mail_command>(parsed);
  if (m.params.body == body_type::binary_mime) return fail(replies::binarymime_unsupported(), out);
  if (m.params.requiretls && !tls_active_) return fail(replies::param_not_supported("REQUIRETLS"), out);
  if (!m.from.is_ascii() && !m.params.smtputf8) return fail(replies::smtputf8_required(), out);
  if (m.params.size && *m.params.size > max_message_bytes_) {
    limit_hit_ = std::make_unique<limit_hit>(
        limit_hit{replies::message_too_big(), "size", *m.params.size, max_message_bytes_, m.from.str()});
    replies::message_too_big().append_to(out);
    return action::read;
  }
  txn_state().pending_mail = std::move(m);
  return action::check_mail;
}

action server_fsm::on_mail_verdict(const verdict& v, std::string& out) {
  if (v.reject) {
    txn_.reset();
    v.reject->append_to(out);
    return v.close ? action::close : action::read;
  }
  auto& t = txn_state();
  t.txn = envelope{};
  t.txn.from = std::move(t.pending_mail.from);
  t.txn.params = std::move(t.pending_mail.params);
  has_mail_ = true;
  replies::mail_ok().append_to(out);
  return action::read;
}

action server_fsm::do_rcpt(const command& c, std::string& out) {
  auto parsed = parse_rcpt(c.args);
  if (auto* r = std::get_if<reply>(&parsed)) return fail(*r, out);
  auto& rc = std::get<rcpt_command>(parsed);
  auto& t = txn_state();
  if (!rc.to.is_ascii() && !t.txn.params.smtputf8) return fail(replies::smtputf8_required(), out);
  if (t.txn.rcpts.size() >= settings_.max_recipients) {
    limit_hit_ = std::make_unique<limit_hit>(limit_hit{replies::too_many_recipients(), "too_many_recipients",
                                                       t.txn.rcpts.size() + 1, settings_.max_recipients, rc.to.str()});
    replies::too_many_recipients().append_to(out);
    return action::read;
  }
  t.pending_rcpt = std::move(rc);
  return action::check_rcpt;
}

action server_fsm::on_rcpt_verdict(const verdict& v, std::string& out) {
  if (v.reject) {
    v.reject->append_to(out);
    return v.close ? action::close : action::read;
  }
  auto& t = txn_state();
  t.txn.rcpts.push_back(recipient{std::move(t.pending_rcpt.to), std::move(t.pending_rcpt.params)});
  replies::rcpt_ok().append_to(out);
  return action::read;
}

action server_fsm::do_data(const command& c, std::string& out) {
  if (c.had_args) return fail(replies::syntax_error("DATA takes no arguments"), out);
  if (transaction().rcpts.empty()) return fail(replies::no_valid_recipients(), out);
  replies::start_data().append_to(out);
  return action::receive_data;
}

action server_fsm::do_bdat(const command& c, std::string& out) {
  auto parsed = parse_bdat(c.args);
  if (auto* r = std::get_if<reply>(&parsed)) {
    // Without a valid size we cannot know how much to skip; RFC 3030 §3 says
    // to close rather than guess.
    r->append_to(out);
    return action::close;
  }
  bdat_ = std::get<bdat_command>(parsed);
  // Refused chunks are still read and dropped so the session stays in step.
  auto refuse = [&](const reply& r) { return fail(r, out) == action::close ? action::close : action::discard_bdat; };
  if (!greeted_) return refuse(replies::bad_sequence("send EHLO first"));
  if (!may_mail()) return refuse(replies::auth_required());
  if (!has_mail_) return refuse(replies::bad_sequence("need MAIL command"));
  if (transaction().rcpts.empty()) return refuse(replies::no_valid_recipients());
  bdat_started_ = true;
  return action::receive_bdat;
}

action server_fsm::on_bdat_chunk(std::string& out) {
  replies::bdat_chunk_ok(bdat_.size).append_to(out);
  return action::read;
}

action server_fsm::on_message_result(const reply& r, std::string& out) {
  r.append_to(out);
  reset_transaction();
  return action::read;
}

action server_fsm::do_rset(const command& c, std::string& out) {
  if (c.had_args) return fail(replies::syntax_error("RSET takes no arguments"), out);
  reset_transaction();
  replies::ok().append_to(out);
  return action::read;
}

action server_fsm::do_noop(const command&, std::string& out) {
  replies::ok().append_to(out);
  return action::read;
}

action server_fsm::do_quit(const command&, std::string& out) {
  replies::bye().append_to(out);
  return action::close;
}

action server_fsm::do_vrfy(const command& c, std::string& out) {
  if (!c.had_args || c.args.empty()) return fail(replies::syntax_error("VRFY address"), out);
  replies::vrfy().append_to(out);
  return action::read;
}

action server_fsm::do_expn(const command&, std::string& out) { return fail(replies::not_implemented(), out); }

action server_fsm::do_help(const command&, std::string& out) {
  replies::help().append_to(out);
  return action::read;
}

action server_fsm::do_starttls(const command& c, std::string& out) {
  if (tls_active_) return fail(replies::tls_already_active(), out);
  if (!settings_.starttls_offered) return fail(replies::tls_not_available(), out);
  if (c.had_args) return fail(replies::syntax_error("STARTTLS takes no arguments"), out);
  replies::ready_for_tls().append_to(out);
  return action::start_tls;
}

void server_fsm::on_tls_started() {
  // RFC 3207 §4.2: forget everything learned before TLS.
  tls_active_ = true;
  greeted_ = false;
  esmtp_ = false;
  helo_.clear();
  account_.clear();
  sasl_.reset();
  reset_transaction();
}

action server_fsm::do_auth(const command& c, std::string& out) {
  if (settings_.inbound) return fail(replies::auth_not_offered(), out);
  if (!tls_active_) return fail(replies::auth_needs_tls(), out);
  if (authenticated()) return fail(replies::auth_already(), out);
  auto parsed = parse_auth(c.args);
  if (auto* r = std::get_if<reply>(&parsed)) return fail(*r, out);
  auto& a = std::get<auth_command>(parsed);
  sasl_ = sasl::make_mechanism(a.mechanism, cb_);
  if (!sasl_) return fail(replies::auth_mech_unknown(), out);
  if (!a.initial_response) return auth_step(sasl_->start(std::nullopt), out);
  if (*a.initial_response == "=") return auth_step(sasl_->start(std::string_view{}), out);
  auto decoded = base::base64_decode(*a.initial_response);
  if (!decoded) {
    sasl_.reset();
    return fail(replies::auth_bad_base64(), out);
  }
  auto r = sasl_->start(*decoded);
  base::secret_string wipe(std::move(*decoded));
  return auth_step(r, out);
}

action server_fsm::auth_continue(std::string_view line, std::string& out) {
  if (line == "*") {
    sasl_.reset();
    return fail(replies::auth_cancelled(), out);
  }
  auto decoded = base::base64_decode(line);
  if (!decoded) {
    sasl_.reset();
    return fail(replies::auth_bad_base64(), out);
  }
  auto r = sasl_->step(*decoded);
  base::secret_string wipe(std::move(*decoded));
  return auth_step(r, out);
}

action server_fsm::auth_step(const sasl::step_result& r, std::string& out) {
  switch (r.k) {
    case sasl::step_result::kind::challenge:
      replies::auth_challenge(base::base64_encode(r.challenge)).append_to(out);
      return action::read;
    case sasl::step_result::kind::lookup:
      auth().creds = r.creds;
      return action::lookup_secrets;
    case sasl::step_result::kind::done: {
      sasl_.reset();
      auto& a = auth();
      a.creds = r.creds;
      a.proof = r.proof;
      a.proof_failure = r.proof.value_or(true) ? std::string{} : r.reason;
      return action::authenticate;
    }
    case sasl::step_result::kind::failed:
      break;
  }
  sasl_.reset();
  return fail(replies::bad_auth_data(), out);
}

action server_fsm::on_scram_secrets(const sasl::scram_secrets& s, std::string_view server_nonce, std::string& out) {
  if (!sasl_) return action::read;
  return auth_step(sasl_->secrets(s, server_nonce), out);
}

action server_fsm::on_auth_result(const auth_outcome& r, std::string& out) {
  sasl_.reset();
  auth_.reset();
  switch (r.k) {
    case auth_outcome::kind::success:
      account_ = r.account;
      replies::auth_ok().append_to(out);
      return action::read;
    case auth_outcome::kind::failure:
      replies::auth_failed().append_to(out);
      return action::read;
    case auth_outcome::kind::throttled:
      replies::auth_throttled().append_to(out);
      return action::close;
    case auth_outcome::kind::temporary:
      replies::auth_temporary_failure().append_to(out);
      return action::read;
  }
  return action::read;
}

}  // namespace smtpsd::smtp
