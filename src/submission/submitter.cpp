#include "submission/submitter.hpp"

#include <fmt/format.h>

#include "base/ids.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
#include "base/strings.hpp"
#include "message/headers.hpp"
#include "base/time_format.hpp"
#include "message/address_list.hpp"
#include "message/fixups.hpp"
#include "message/ses_headers.hpp"
#include "smtp/replies.hpp"

namespace smtpsd::submission {

namespace {
std::shared_ptr<spdlog::logger> log() {
  static auto l = base::logger("submission");
  return l;
}
}  // namespace

message_builder::message_builder(std::string queue_id, std::shared_ptr<store::spool> spool,
                                 const smtp::envelope& env, const session_facts& facts, const settings& s,
                                 base::time_point now, header_check check)
    : spool_(std::move(spool)),
      body_(spool_->create(queue_id)),
      facts_(facts),
      settings_(s),
      now_(now),
      splitter_(s.max_header_bytes),
      check_(std::move(check)) {
  meta_.id = std::move(queue_id);
  meta_.account_id = facts.account_id;
  meta_.account = facts.account;
  meta_.from = env.from.str();
  meta_.created = now;
  meta_.envid = env.params.envid;
  meta_.ret = env.params.ret;
  meta_.body = env.params.body;
  meta_.smtputf8 = env.params.smtputf8;
  if (env.params.requiretls) meta_.tls = base::tls_demand::required;
  meta_.client_ip = facts.client_ip;
  if (s.duplicate_window.count() > 0) {
    content_digest_ = std::make_unique<base::keyed_hash>();
  }
  for (const auto& r : env.rcpts) {
    store::queued_recipient q;
    q.address = r.box.str();
    q.orcpt = r.params.orcpt;
    q.notify = r.params.notify;
    q.next_attempt = now;
    meta_.recipients.push_back(std::move(q));
  }
}

message_builder::~message_builder() {
  if (!done_) abort();
}

void message_builder::storage_failed(const std::exception& e) {
  if (failure_) return;
  log()->error("session={} queue_id={} cannot write the message: {}", facts_.session_id, meta_.id, e.what());
  failure_ = policy::storage_failure(e);
}

void message_builder::append(std::string_view content) {
  if (failure_ || !body_) return;
  if (!splitter_.header_done()) {
    content = splitter_.feed(content);
    if (splitter_.too_big()) {
      failure_ = policy::rejection{smtp::replies::header_too_big(), "header_too_big",
                                   fmt::format("limit={}", settings_.max_header_bytes)};
      return;
    }
  }
  if (!signing_decided_ && splitter_.header_done()) decide_signing();
  if (content.empty()) return;
  body_bytes_ += content.size();
  if (body_hash_) body_hash_->update(content);
  if (content_digest_) content_digest_->update(content);
  try {
    body_->write_body(content);
  } catch (const std::exception& e) {
    storage_failed(e);
  }
}

// Once the header section is in: the body is hashed as it arrives only when
// the From: domain has keys to sign with.
void message_builder::decide_signing() {
  signing_decided_ = true;
  if (!settings_.dkim) return;
  const auto& fields = header_fields();
  const auto* from = fields ? message::find_field(*fields, "From") : nullptr;
  auto addresses = from ? message::parse_address_list(from->value) : std::nullopt;
  if (addresses && !addresses->empty()) {
    const auto& first = addresses->front();
    if (!settings_.dkim->may_sign(first.substr(first.rfind('@') + 1))) return;
  }
  body_hash_ = std::make_unique<dkim::body_hash>();
}

const std::optional<std::vector<message::header_field>>& message_builder::header_fields() {
  if (!fields_parsed_) {
    fields_ = message::parse_header_section(splitter_.section());
    fields_parsed_ = true;
  }
  return fields_;
}

std::optional<policy::rejection> message_builder::seal() {
  if (failure_) return failure_;
  splitter_.finish();
  if (!signing_decided_) decide_signing();
  const auto& fields = header_fields();
  if (!fields) return policy::rejection{smtp::replies::malformed_headers(), "malformed_headers", "unparseable header section"};
  if (check_) {
    if (auto r = check_(*fields)) return r;
  }
  message::trace_info t;
  t.hostname = settings_.hostname;
  t.helo = facts_.helo;
  t.client_ip = facts_.client_ip;
  t.queue_id = meta_.id;
  t.tls_version = facts_.tls_version;
  t.tls_cipher = facts_.tls_cipher;
  t.esmtp = facts_.esmtp;
  t.authenticated = !facts_.account.empty();
  t.now = now_;
  make_duplicate_key(*fields);
  auto fixed = message::apply_submission_fixups(splitter_.section(), *fields, t);
  meta_.message_id = fixed.message_id;
  // RFC 8689 §4.1: REQUIRETLS on MAIL wins over the header field.
  if (fixed.tls_required_no && meta_.tls == base::tls_demand::policy) meta_.tls = base::tls_demand::not_required;
  if (auto r = take_ses_fields(fixed)) return r;
  if (auto r = sign(fixed.section)) return r;
  meta_.size = body_bytes_ + fixed.section.size();
  header_section_ = std::move(fixed.section);
  return std::nullopt;
}

// The duplicate guard's key: a digest of the account, the Message-ID as
// submitted and a digest of the content as submitted (the header section,
// then the body digested as it came). None for a message without a
// Message-ID. The account's decimal id ends at the first line feed and the
// content digest is the last 16 octets, so no two inputs run together. The
// digest is keyed with a secret made at start-up (base::keyed_hash), which
// keeps the keys (and so the guard's hash buckets) unpredictable to senders;
// and as the account is in the key, a sender who found two contents with one
// key could only have their own second message taken for their first.
void message_builder::make_duplicate_key(const std::vector<message::header_field>& fields) {
  const auto* id = content_digest_ ? message::find_field(fields, "Message-ID") : nullptr;
  if (!id) return;
  const auto body = content_digest_->finish();
  content_digest_->update(splitter_.section());
  content_digest_->update(body);
  const auto content = content_digest_->finish();
  char account[24];
  const auto end = fmt::format_to(account, "{}\n", facts_.account_id);
  content_digest_->update(std::string_view(account, static_cast<std::size_t>(end - account)));
  content_digest_->update(base::trim(id->value));
  content_digest_->update("\n");
  content_digest_->update(content);
  duplicate_key_ = content_digest_->finish();
}

// X-SES-CONFIGURATION-SET (else the account's default) and X-SES-MESSAGE-TAGS.
std::optional<policy::rejection> message_builder::take_ses_fields(const message::fixed_headers& fixed) {
  meta_.configuration_set = fixed.configuration_set.value_or(facts_.configuration_set);
  if (!meta_.configuration_set.empty() && !settings_.configuration_sets.count(meta_.configuration_set))
    return policy::rejection{smtp::replies::configuration_set_unknown(meta_.configuration_set), "configuration_set",
                             fmt::format("configuration_set=\"{}\"", base::printable(meta_.configuration_set, 64))};
  if (fixed.message_tags) {
    auto tags = message::parse_message_tags(*fixed.message_tags);
    if (!tags) return policy::rejection{smtp::replies::bad_message_tags(), "message_tags", "unparseable X-SES-MESSAGE-TAGS"};
    meta_.tags = std::move(*tags);
  }
  return std::nullopt;
}

// Signed once, here, after the fix-ups: the signature covers exactly the
// bytes that leave. A message from a domain without keys leaves unsigned.
std::optional<policy::rejection> message_builder::sign(std::string& section) {
  if (!body_hash_) return std::nullopt;
  try {
    auto signed_fields = message::parse_header_section(section);
    const auto* from = signed_fields ? message::find_field(*signed_fields, "From") : nullptr;
    auto addresses = from ? message::parse_address_list(from->value) : std::nullopt;
    if (!addresses || addresses->empty())
      return policy::rejection{smtp::replies::malformed_headers(), "malformed_headers", "no From: address to sign for"};
    const auto& first = addresses->front();
    const auto domain = base::to_lower(first.substr(first.rfind('@') + 1));
    auto keys = settings_.dkim->signing_keys(domain);
    if (!keys.empty()) section.insert(0, dkim::sign(keys, section, body_hash_->finish_base64(), base::unix_seconds(now_)));
  } catch (const std::exception& e) {
    log()->error("session={} queue_id={} cannot sign: {}", facts_.session_id, meta_.id, e.what());
    return policy::rejection{smtp::replies::temporary_failure(), "dkim", e.what()};
  }
  return std::nullopt;
}

void message_builder::abort() {
  done_ = true;
  arrival_ = {};  // the committer need not wait for it
  if (!body_) return;
  body_.reset();  // close before removing
  try {
    spool_->remove(meta_.id);
  } catch (const std::exception& e) {
    log()->warn("session={} queue_id={} cannot remove the aborted body: {}", facts_.session_id, meta_.id, e.what());
  }
}

submitter::submitter(store::stores stores, group_committer& committer, settings s, const base::clock& clock,
                     base::random_source& random, events::sink* events)
    : events_(events),
      stores_(std::move(stores)),
      committer_(committer),
      settings_(std::move(s)),
      clock_(clock),
      random_(random) {}

std::unique_ptr<message_builder> submitter::begin(const smtp::envelope& env, const session_facts& facts,
                                                  header_check check, group_committer::arrival announced) {
  const auto now = clock_.now();
  auto id = base::make_queue_id(now, static_cast<std::uint32_t>(random_.next_u64()));
  auto m = std::make_unique<message_builder>(id, stores_.bodies, env, facts, settings_, now, std::move(check));
  m->set_arrival(announced ? std::move(announced) : committer_.expect());
  return m;
}

void submitter::commit(std::unique_ptr<message_builder> m, std::function<void(const commit_result&)> done) {
  group_committer::request r;
  r.body = m->take_body();
  r.header_section = m->take_header_section();
  r.meta = m->take_meta();
  r.expected = m->take_arrival();
  m->committed();
  if (events_) {
    r.published.push_back(send_event(r.meta, r.header_section));
    r.events.push_back(events::to_stored_rendering_line(r.published.back()));
    r.publish_to = events_;
  }
  r.done = [this, done = std::move(done)](const commit_result& failed) {
    if (!failed) accepted_metric().inc();
    done(failed);  // last: the session (and in tests the submitter) may be gone right after
  };
  committer_.submit(std::move(r));
}

events::event submitter::send_event(const store::queued_message& m, const std::string& header_section) {
  const auto now = clock_.now();
  auto e = events::about_message(m, "send", events::make_event_id(now, random_), now,
                                 events_->wants_headers() ? &header_section : nullptr);
  e.recipients = e.mail.destination;
  e.smtp_response = smtp::replies::queued_summary(m.id);
  return e;
}

void submitter::on_committed(committed_mail* to) { committer_.hand_to(to); }

std::optional<std::string> submitter::first_submission(const duplicate_key& key) {
  std::lock_guard l(recent_mu_);
  return recent_.find(key, clock_.now() - settings_.duplicate_window);
}

void submitter::remember(const duplicate_key& key, const std::string& queue_id) {
  const auto now = clock_.now();
  std::lock_guard l(recent_mu_);
  recent_.remember(key, queue_id, now, now - settings_.duplicate_window);
}

void submitter::enqueue_generated(const generated_message& m, std::function<void(const std::string&)> done) {
  const auto& content = m.content;
  const auto now = clock_.now();
  auto id = base::make_queue_id(now, static_cast<std::uint32_t>(random_.next_u64()));
  group_committer::request r;
  try {
    r.body = stores_.bodies->create(id);
    auto split = content.find("\r\n\r\n");
    std::string_view head = split == std::string::npos ? std::string_view(content) : std::string_view(content).substr(0, split + 2);
    std::string_view body = split == std::string::npos ? std::string_view{} : std::string_view(content).substr(split + 4);
    r.body->write_body(body);
    r.header_section = std::string(head);
    r.meta.size = body.size() + head.size();
  } catch (const std::exception& e) {
    log()->error("queue_id={} cannot queue a generated message: {}", id, e.what());
    r.body.reset();
    stores_.bodies->remove(id);
    if (done) done("");
    return;
  }
  r.meta.id = id;
  r.meta.from = m.from;
  r.meta.created = now;
  const std::string head_copy = content.substr(0, content.find("\r\n\r\n") + 2);
  if (auto fields = message::parse_header_section(head_copy))
    for (auto& f : *fields)
      if (base::iequals(f.name, "Message-ID")) r.meta.message_id = std::string(base::trim(f.value));
  store::queued_recipient rc;
  rc.address = m.to;
  rc.next_attempt = now;
  r.meta.recipients.push_back(rc);
  r.done = [this, id, done = std::move(done)](const commit_result& failed) {
    if (!failed) {
      log()->info("queue_id={} generated message queued", id);
    } else {
      log()->error("queue_id={} generated message could not be queued: {}", id, failed->detail);
    }
    if (done) done(failed ? std::string{} : id);
  };
  committer_.submit(std::move(r));
}

}  // namespace smtpsd::submission
