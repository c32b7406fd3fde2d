#pragma once
// One message as it arrives (DATA or BDAT): the content reader's verdict on
// every octet (dot-unstuffing, bare CR/LF, line length, size), the content
// streamed to the spool while it is read, then sealed on the worker pool
// (header check, fix-ups, DKIM) and committed by the group committer. The
// session reads the bytes off the connection; this decides what they come to.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/worker_pool.hpp"
#include "policy/rejection.hpp"
#include "smtp/data_reader.hpp"
#include "submission/submitter.hpp"

namespace smtpsd::server {

class intake {
 public:
  // The message ends with <CRLF>.<CRLF> (DATA) or with BDAT LAST.
  // `announced`: the session's announcement of it to the group committer.
  intake(smtp::data_reader::mode mode, std::uint64_t max_bytes, submission::submitter& submit,
         const smtp::envelope& env, const submission::session_facts& facts, submission::header_check check,
         submission::group_committer::arrival announced);
  // The inbound listener: the first `keep` octets of the content are handed
  // to `read` on the worker pool (a report's parts that matter come first;
  // the rest is received and dropped, so a session holds at most `keep`),
  // whose reply ends the transaction; nothing is queued.
  using report_reader = std::function<smtp::reply(std::string content)>;
  intake(smtp::data_reader::mode mode, std::uint64_t max_bytes, std::uint64_t keep, report_reader read);
  ~intake();

  // DATA: takes octets up to the end marker; returns how many it took.
  std::size_t feed(std::string_view bytes);
  // BDAT: takes every octet given (a chunk, or part of one).
  void feed_chunk(std::string_view bytes);
  // BDAT LAST: the last chunk is in.
  void end_chunks();
  bool done() const { return reader_.done(); }

  struct verdict {
    std::optional<policy::rejection> refused;  // else queued as queue_id
    std::string queue_id;
    std::string summary;  // from=<…> rcpts=N size=N, for the log
    std::optional<smtp::reply> reply;  // a report's reply (nothing queued)
    bool duplicate = false;            // a resubmission: queue_id is the first one's, nothing was queued
  };
  // After the last octet: the verdict, sealing and committing on the way.
  net::awaitable<verdict> finish(net::worker_pool& pool);

 private:
  void append(const std::string& content);
  void start_commit(std::function<void(submission::commit_result)> done);
  void seal_and_commit(std::function<void(submission::commit_result)> done);
  policy::rejection refusal() const;

  smtp::data_reader reader_;
  std::uint64_t max_bytes_;
  submission::submitter* submit_ = nullptr;
  report_reader read_report_;
  std::string report_;
  std::size_t keep_ = 0;
  std::optional<submission::duplicate_key> duplicate_key_;
  std::string duplicate_of_;
  std::unique_ptr<submission::message_builder> message_;
  std::optional<policy::rejection> failure_;  // the spool could not take the message
  std::string summary_;
  net::worker_pool* sign_on_ = nullptr;  // where seal() runs when it signs
};

// The log rule of a content error ("bare_cr_lf", "size", "line_too_long").
const char* data_rule(smtp::data_reader::error e);

}  // namespace smtpsd::server
