#include "server/intake.hpp"

#include <fmt/format.h>

#include "net/coro.hpp"
#include "smtp/replies.hpp"

namespace smtpsd::server {

const char* data_rule(smtp::data_reader::error e) {
  switch (e) {
    case smtp::data_reader::error::bare_cr_lf: return "bare_cr_lf";
    case smtp::data_reader::error::too_big: return "size";
    case smtp::data_reader::error::line_too_long: return "line_too_long";
    case smtp::data_reader::error::none: break;
  }
  return "none";
}

intake::intake(smtp::data_reader::mode mode, std::uint64_t max_bytes, submission::submitter& submit,
               const smtp::envelope& env, const submission::session_facts& facts, submission::header_check check,
               submission::group_committer::arrival announced)
    : reader_(mode, max_bytes), max_bytes_(max_bytes), submit_(&submit) {
  try {
    message_ = submit_->begin(env, facts, std::move(check), std::move(announced));
  } catch (const std::exception& e) {
    failure_ = policy::storage_failure(e);
  }
}

intake::intake(smtp::data_reader::mode mode, std::uint64_t max_bytes, std::uint64_t keep, report_reader read)
    : reader_(mode, max_bytes), max_bytes_(max_bytes), read_report_(std::move(read)), keep_(static_cast<std::size_t>(keep)) {}

intake::~intake() = default;  // an unfinished message_builder removes its spool entry

void intake::append(const std::string& content) {
  if (read_report_) {
    if (report_.size() < keep_) report_.append(content, 0, keep_ - report_.size());
    return;
  }
  if (message_ && !content.empty()) message_->append(content);
}

namespace {

// Where a feed's content is decoded before it is appended: one buffer per
// thread for every message (a message's own would be allocated and grown
// for each, above the sizes glibc serves from its per-thread cache). Never
// larger than what one feed carries, a session's input buffer.
std::string& scratch(std::size_t room) {
  thread_local std::string s;
  if (s.capacity() > 256 * 1024) std::string().swap(s);  // after an unusually large feed
  s.clear();
  s.reserve(room);  // the content is never longer than what carries it
  return s;
}

}  // namespace

std::size_t intake::feed(std::string_view bytes) {
  auto& chunk = scratch(bytes.size());
  const auto used = reader_.feed(bytes, chunk);
  append(chunk);
  return used;
}

void intake::feed_chunk(std::string_view bytes) {
  auto& chunk = scratch(bytes.size());
  reader_.feed(bytes, chunk);
  append(chunk);
}

void intake::end_chunks() {
  auto& chunk = scratch(0);
  reader_.finish(chunk);
  append(chunk);
}

// A content error first (the client's), then a storage failure (ours).
policy::rejection intake::refusal() const {
  if (auto e = smtp::data_error_reply(reader_.err()))
    return {*e, data_rule(reader_.err()), fmt::format("size={} limit={}", reader_.size(), max_bytes_)};
  return failure_.value_or(policy::rejection{smtp::replies::temporary_failure(), "storage", ""});
}

// A message crosses threads twice: to the group committer and back. One
// that will be signed goes to the worker pool first and from there straight
// to the committer; anything else is sealed here (header checks and fix-ups
// are microseconds; no disk is touched until the commit).
net::awaitable<intake::verdict> intake::finish(net::worker_pool& pool) {
  verdict v;
  if (read_report_) {
    if (reader_.err() != smtp::data_reader::error::none) {
      v.refused = refusal();
      co_return v;
    }
    v.reply = co_await pool.run([this] { return read_report_(std::move(report_)); });
    co_return v;
  }
  if (reader_.err() != smtp::data_reader::error::none || !message_) {
    message_.reset();
    v.refused = refusal();
    co_return v;
  }
  auto queue_id = message_->queue_id();
  sign_on_ = message_->will_sign() ? &pool : nullptr;
  v.refused = co_await net::from_callback<submission::commit_result>(
      [this](std::function<void(submission::commit_result)> done) { start_commit(std::move(done)); });
  if (!v.refused) {
    v.summary = summary_;
    if (!duplicate_of_.empty()) {
      v.queue_id = duplicate_of_;
      v.duplicate = true;
    } else {
      if (duplicate_key_) submit_->remember(*duplicate_key_, queue_id);
      v.queue_id = std::move(queue_id);
    }
  }
  co_return v;
}

void intake::start_commit(std::function<void(submission::commit_result)> done) {
  if (!sign_on_) return seal_and_commit(std::move(done));
  net::asio::post(sign_on_->executor(), [this, done = std::move(done)]() mutable { seal_and_commit(std::move(done)); });
}

void intake::seal_and_commit(std::function<void(submission::commit_result)> done) {
  if (auto refused = message_->seal()) {
    message_.reset();  // drops its spool entry
    done(std::move(refused));
    return;
  }
  const auto& meta = message_->meta();
  summary_ = fmt::format("from=<{}> rcpts={} size={}", meta.from, meta.recipients.size(), meta.size);
  duplicate_key_ = message_->duplicate();
  if (duplicate_key_)
    if (auto first = submit_->first_submission(*duplicate_key_)) {
      // The client resubmitted what it sent before (it missed our 250): the first id, nothing queued twice.
      duplicate_of_ = std::move(*first);
      message_.reset();  // drops its spool entry
      done(std::nullopt);
      return;
    }
  submit_->commit(std::move(message_), std::move(done));
}

}  // namespace smtpsd::server
