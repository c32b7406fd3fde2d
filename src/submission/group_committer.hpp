#pragma once
// The one writer into the queue. Sessions hand over sealed messages; one
// thread takes everything waiting, ends each body with its header section,
// makes the bodies durable together (the embedded spool: one pwritev and one
// fdatasync for the batch), commits all their metadata in one transaction
// (leasing as many as delivery has room for, which then go straight to it:
// hand_to()), and only then reports back. A batch nobody delivers yet is
// answered once its bodies and replay data are synced, and its rows wait to
// be committed with the next batches' (holding; alone when no batch follows
// within 5 ms): the spool's replay data answers for them meanwhile,
// as it does after a power cut. While one batch
// syncs, the next one gathers, so under load many messages share each sync;
// and before a batch starts, the committer waits briefly for messages whose
// sessions have begun a transaction (expect(): from MAIL on), so that they
// share it too.
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "base/metrics.hpp"
#include "events/event.hpp"
#include "policy/rejection.hpp"
#include "store/stores.hpp"
#include "submission/queue_writer.hpp"

namespace smtpsd::submission {

// nullopt: committed; else why not (policy::storage_failure).
using commit_result = std::optional<policy::rejection>;

// Submission's metrics, each defined once; register_metrics() makes them
// exist at zero from start-up.
base::histogram& commit_batch_metric();
base::histogram& commit_seconds_metric();
base::histogram& commit_wait_metric();  // smtpsd_commit_wait_seconds: the gather before a batch
base::counter& accepted_metric();  // smtpsd_messages_accepted_total
base::counter& rows_held_metric();  // smtpsd_commit_rows_held_total
void register_metrics();

// How long a batch may wait for announced messages: times_commit times the
// average commit, within [least, most].
struct gathering {
  double times_commit = 2.0;
  std::chrono::nanoseconds least{0};
  std::chrono::nanoseconds most = std::chrono::milliseconds(4);
};

// How long the rows of answered messages may be held back, to be committed
// with later ones (see group_committer::commit): at most `rows` messages,
// for at most `most`, and no longer than `idle` after the last batch when
// no other comes. rows = 0: never. Each commit rewrites the last pages of
// every table and index it adds to (about 37 pages of 4 KiB here, whatever
// the rows), so it pays to commit many rows at once: under `send` with 8
// clients, an idle limit of 1 ms ended most commits after about 38 rows
// (1.3 WAL pages per message), 5 ms lets them reach about 220 (0.65).
struct holding {
  std::size_t rows = 256;
  std::chrono::nanoseconds most = std::chrono::milliseconds(50);
  std::chrono::nanoseconds idle = std::chrono::milliseconds(5);
  // Nothing is held while the spool's file system has less free: a commit
  // that fails for want of room must fail before its clients are answered.
  std::uint64_t least_free = 64ull << 20;
};

class group_committer {
 public:
  // A message on its way: its session's transaction has begun (MAIL was
  // accepted), and its content will be submitted, or the transaction will
  // end without it. Before a batch syncs, the committer waits a little for
  // such messages (see run()), so that under load they share the sync
  // instead of each paying for one. Moved from the session into the message
  // at DATA or BDAT, so the count never drops in between.
  class arrival {
   public:
    arrival() = default;
    explicit arrival(group_committer* c) : c_(c) {}
    arrival(arrival&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    arrival& operator=(arrival&& o) noexcept;
    ~arrival();
    explicit operator bool() const { return c_ != nullptr; }

   private:
    friend class group_committer;
    group_committer* c_ = nullptr;
  };

  struct request {
    std::unique_ptr<store::spool_writer> body;  // the body written; finished here
    std::string header_section;
    store::queued_message meta;
    std::vector<store::stored_event> events;  // stored with the message, in its transaction
    // The same events, handed to publish_to once the batch is committed and
    // before any `done` runs: the whole batch's in one call, so the journal
    // takes one write per batch and a client's 250 follows its event.
    events::sink* publish_to = nullptr;
    std::vector<events::event> published;
    std::function<void(const commit_result&)> done;  // runs on the committer thread
    arrival expected;                                 // when the message was announced by expect()
  };

  group_committer(std::shared_ptr<store::spool> spool, std::shared_ptr<store::queue_store> queue,
                  gathering g = {}, holding h = {});
  ~group_committer();

  // Announces a message that will be submitted (or dropped) soon.
  arrival expect();
  void submit(request r);
  // Where each committed batch goes into delivery (queue_writer::on_committed).
  void hand_to(committed_mail* to);
  // Returns once the rows of every message answered so far are committed:
  // what a reader is shown then includes them. Blocks; not for I/O threads.
  void settle();
  // Commits what is waiting, then stops the thread.
  void stop();
  // The committer's thread, for the server to give it a core of its own.
  std::thread::native_handle_type thread_handle() { return thread_.native_handle(); }

 private:
  void run();
  void commit(std::vector<request>& batch);
  // Events to publish, in runs for one sink each.
  using event_runs = std::vector<std::pair<events::sink*, std::vector<events::event>>>;
  // Rows of answered messages whose commit waits for later ones (their
  // bodies and replay data are synced), and the events to publish once they
  // are committed.
  struct held_rows {
    std::vector<store::queued_message> metas;
    std::vector<store::stored_event> events;
    event_runs published;
    std::chrono::steady_clock::time_point since{};
    bool failing = false;  // the last commit of them failed: the next batch does not wait
  };
  void hold(std::vector<store::queued_message>& metas, std::vector<store::stored_event>& events,
            std::vector<request>& batch, const std::vector<commit_result>& results);
  void commit_held();
  void clear_held();
  bool room_to_hold();
  event_runs published(std::vector<request>& batch, const std::vector<commit_result>& results);
  static void add_to_runs(event_runs& runs, events::sink* sink, std::vector<events::event>& evs);
  static void publish(event_runs& runs);
  void forget_replay(const std::vector<store::queued_message>& metas);
  void hand_over(std::vector<committed_message> leased, std::vector<store::queued_message>& metas,
                 const std::vector<std::int64_t>& tokens, const committed_mail::room& room);
  std::chrono::nanoseconds gather_limit() const;

  std::shared_ptr<store::spool> spool_;
  std::shared_ptr<store::queue_store> queue_;
  gathering gathering_;
  holding holding_;
  const bool may_hold_;  // the queue records spool positions (store::queue_store::replayed_through)
  held_rows held_;       // the committer thread's
  std::chrono::steady_clock::time_point free_checked_{};  // room_to_hold's last look, and what it saw
  bool free_enough_ = false;
  std::mutex mail_mu_;  // held through each commit, so hand_to() waits for the one running
  committed_mail* mail_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<request> pending_;
  unsigned expected_ = 0;  // announced and not yet submitted or dropped
  bool rows_held_ = false;     // held_ has rows
  bool settle_asked_ = false;  // settle() waits for them
  bool finished_ = false;      // run() returned
  std::condition_variable settled_;
  std::chrono::nanoseconds commit_time_{0};  // a moving average of commit(): the committer thread's
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace smtpsd::submission
