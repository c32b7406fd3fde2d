#include "delivery/transaction.hpp"

#include <fmt/format.h>

#include "base/log.hpp"

namespace smtpsd::delivery {

namespace {

std::shared_ptr<spdlog::logger> log() {
  static auto l = base::logger("delivery");
  return l;
}

class transaction {
 public:
  transaction(smtp_client& c, const job& j) : c_(c), j_(j), mta_(c.remote_name()), accepted_(j.rcpts.size(), false) {
    r_.outcomes.resize(j.rcpts.size());
  }
  net::awaitable<transaction_result> run();

 private:
  std::optional<outcome> preflight() const;
  net::awaitable<void> send_envelope();
  std::size_t take_recipient_replies();
  net::awaitable<void> data_phase(std::size_t accepted);
  net::awaitable<std::optional<response>> stream_dot_stuffed();
  net::awaitable<void> bdat_phase(std::size_t accepted);
  net::awaitable<std::optional<response>> stream_chunks();
  net::awaitable<void> end_data_at_once();
  net::awaitable<void> reset();
  void settle(const outcome& o);
  void settle(const response& r) { settle(from_reply(r, mta_)); }
  void fail_all(const outcome& o) { r_.outcomes.assign(r_.outcomes.size(), o); }
  void abandon(const std::string& why);

  smtp_client& c_;
  const job& j_;
  std::string mta_;
  std::vector<std::string> lines_;   // MAIL, RCPT…, and DATA unless BDAT
  std::vector<response> replies_;    // as many as were read, in order
  std::vector<bool> accepted_;       // RCPT accepted; the data reply decides
  transaction_result r_;
};

net::awaitable<transaction_result> transaction::run() {
  if (auto o = preflight()) {
    fail_all(*o);
    r_.reusable = true;
    co_return std::move(r_);
  }
  co_await send_envelope();
  const response& mail = replies_.front();
  if (!mail.ok()) {
    r_.retry_fresh = mail.io_error;  // nothing was accepted: safe to try again elsewhere
    fail_all(from_reply(mail, mta_));
    if (!mail.io_error && !c_.broken()) {
      if (replies_.size() == lines_.size() && replies_.back().reply.code == 354) co_await end_data_at_once();
      co_await reset();
    }
    co_return std::move(r_);
  }
  const auto accepted = take_recipient_replies();
  if (c_.broken())
    settle(connection_lost(mta_));
  else if (c_.capabilities().chunking)
    co_await bdat_phase(accepted);
  else
    co_await data_phase(accepted);
  co_return std::move(r_);
}

// What the remote announced it cannot take, before any command is sent.
std::optional<outcome> transaction::preflight() const {
  const auto& caps = c_.capabilities();
  if (j_.mail.smtputf8 && !caps.smtputf8) return smtputf8_unsupported(mta_);
  if (j_.mail.tls == base::tls_demand::required && !caps.requiretls) return requiretls_unsupported(mta_);
  if (caps.size && *caps.size > 0 && j_.mail.size > *caps.size) return too_big(mta_, j_.mail.size, *caps.size);
  return std::nullopt;
}

// MAIL, RCPT… and DATA: pipelined when offered, else one at a time up to the
// first refusal of MAIL. replies_ gets at least one entry.
net::awaitable<void> transaction::send_envelope() {
  const auto& caps = c_.capabilities();
  lines_.push_back(smtp::format_mail(j_.from, j_.mail, caps));
  for (auto& r : j_.rcpts) lines_.push_back(smtp::format_rcpt(r.address, r.notify, r.orcpt, caps));
  if (!caps.chunking) lines_.push_back("DATA");
  if (!caps.pipelining) {
    for (std::size_t i = 0; i < lines_.size(); ++i) {
      auto r = co_await c_.command(lines_[i]);
      replies_.push_back(std::move(r));
      if (replies_.back().io_error || (i == 0 && !replies_.back().ok())) break;
    }
    co_return;
  }
  std::string wire;
  for (auto& l : lines_) {
    if (c_.trace) c_.trace('>', l);
    wire.append(l).append("\r\n");
  }
  if (!co_await c_.send(wire)) {
    replies_.push_back(connection_lost(mta_));
    co_return;
  }
  for (std::size_t i = 0; i < lines_.size(); ++i) {
    auto r = co_await c_.read_reply();
    replies_.push_back(std::move(r));
    if (replies_.back().io_error) break;
  }
}

// The RCPT replies: refusals are final, acceptances wait for the data reply.
std::size_t transaction::take_recipient_replies() {
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < accepted_.size(); ++i) {
    if (i + 1 >= replies_.size()) {
      r_.outcomes[i] = from_reply(connection_lost(mta_), mta_);
    } else if (replies_[i + 1].ok()) {
      accepted_[i] = true;
      ++accepted;
    } else {
      r_.outcomes[i] = from_reply(replies_[i + 1], mta_);
    }
  }
  return accepted;
}

void transaction::settle(const outcome& o) {
  for (std::size_t i = 0; i < accepted_.size(); ++i)
    if (accepted_[i]) r_.outcomes[i] = o;
}

// Our spool failed mid-message: drop the connection so the remote never
// takes half a message; the recipients are deferred.
void transaction::abandon(const std::string& why) {
  log()->error("queue_id={} cannot read the message body: {}", j_.queue_id, why);
  c_.stream().close_now();
  settle(body_unreadable(why));
}

net::awaitable<void> transaction::data_phase(std::size_t accepted) {
  response data;
  if (replies_.size() == lines_.size())
    data = replies_.back();  // pipelined
  else
    data = co_await c_.command("DATA");
  if (accepted == 0) {
    if (data.reply.code == 354) co_await end_data_at_once();
    co_await reset();
    co_return;
  }
  if (data.reply.code != 354) {
    settle(data);
    co_await reset();
    co_return;
  }
  auto final = co_await stream_dot_stuffed();
  if (!final) co_return;  // abandoned: the recipients are settled
  settle(*final);
  r_.reusable = !c_.broken() && final->reply.code != 421;
}

// The content, dot-stuffed, and the final "." with its reply; nullopt when
// our own spool failed and the connection was dropped.
net::awaitable<std::optional<response>> transaction::stream_dot_stuffed() {
  const auto timeout = c_.limits().data;
  auto src = j_.open();
  smtp::dot_stuffer stuffer;
  std::string wire;
  std::string read_error;
  try {
    for (;;) {
      const std::string_view chunk = co_await src->next();
      if (chunk.empty()) break;
      std::string_view out = chunk;  // most chunks go as they are, uncopied
      if (!stuffer.as_is(chunk)) {
        wire.clear();
        stuffer.encode(chunk, wire);
        out = wire;
      }
      if (!co_await c_.send(out, timeout)) co_return connection_lost(mta_, "during the data");
    }
  } catch (const std::exception& e) {
    read_error = e.what();
  }
  if (!read_error.empty()) {
    abandon(read_error);
    co_return std::nullopt;
  }
  wire.clear();
  stuffer.finish(wire);
  if (c_.trace) c_.trace('>', "<message> .");
  if (!co_await c_.send(wire, timeout)) co_return connection_lost(mta_, "during the data");
  auto final = co_await c_.read_reply(timeout);
  co_return final;
}

net::awaitable<void> transaction::bdat_phase(std::size_t accepted) {
  if (accepted == 0) {
    co_await reset();
    co_return;
  }
  auto final = co_await stream_chunks();
  if (!final) co_return;  // abandoned: the recipients are settled
  settle(*final);
  r_.reusable = !c_.broken() && final->ok();
}

// BDAT: the content in chunks, the last one marked LAST; nullopt as above.
net::awaitable<std::optional<response>> transaction::stream_chunks() {
  const auto timeout = c_.limits().data;
  auto src = j_.open();
  response final;
  std::string read_error;
  try {
    // Each chunk is copied: the next one is read before this one is sent
    // (to know which is the last), and a source's chunk lasts only until then.
    const std::string_view first = co_await src->next();
    std::string cur(first);
    for (;;) {
      std::string next;
      if (!cur.empty()) {
        const std::string_view more = co_await src->next();
        next.assign(more);
      }
      const bool last = next.empty();
      auto head = fmt::format("BDAT {}{}", cur.size(), last ? " LAST" : "");
      if (c_.trace) c_.trace('>', head);
      head.append("\r\n").append(cur);
      if (!co_await c_.send(head, timeout)) co_return connection_lost(mta_, "during the data");
      final = co_await c_.read_reply(timeout);
      if (!final.ok() || last) break;
      cur = std::move(next);
    }
  } catch (const std::exception& e) {
    read_error = e.what();
  }
  if (!read_error.empty()) {
    abandon(read_error);
    co_return std::nullopt;
  }
  co_return final;
}

// A 354 came although no recipient was accepted (pipelining): end the data
// at once (RFC 2920 §3.1).
net::awaitable<void> transaction::end_data_at_once() {
  if (!co_await c_.send(".\r\n")) co_return;
  auto ignored = co_await c_.read_reply();
  (void)ignored;
}

// RSET after a transaction that ended early; the connection is reusable when it answers.
net::awaitable<void> transaction::reset() {
  if (c_.broken()) co_return;
  auto r = co_await c_.command("RSET");
  r_.reusable = r.ok();
}

}  // namespace

net::awaitable<transaction_result> run_transaction(smtp_client& c, const job& j) {
  transaction t(c, j);
  auto r = co_await t.run();
  const auto ip = c.stream().remote().address().to_string();
  for (auto& o : r.outcomes)
    if (o.remote) o.remote_ip = ip;
  co_return r;
}

}  // namespace smtpsd::delivery
