#include "submission/group_committer.hpp"

#include <algorithm>
#include <iterator>

#include "base/log.hpp"
#include "base/metrics.hpp"
#include "base/thread.hpp"
#include "store/replay.hpp"

namespace smtpsd::submission {

namespace {

// How many elements the batch's requests hold in one of their vectors: what
// a vector gathering them all reserves, so that it grows once.
template <class Request, class Vector>
std::size_t total(const std::vector<Request>& batch, Vector Request::*member) {
  std::size_t n = 0;
  for (const auto& r : batch) n += (r.*member).size();
  return n;
}

}  // namespace

base::histogram& commit_batch_metric() {
  static auto& h = base::metrics().get_histogram(
      "smtpsd_commit_batch_size", "Messages committed together by one group commit", {1, 2, 4, 8, 16, 32, 64, 128, 256});
  return h;
}

base::histogram& commit_seconds_metric() {
  static auto& h =
      base::metrics().get_histogram("smtpsd_commit_seconds", "Time to make a batch durable", base::latency_buckets());
  return h;
}

base::histogram& commit_wait_metric() {
  static auto& h = base::metrics().get_histogram(
      "smtpsd_commit_wait_seconds", "Time a batch waited for messages still arriving before its commit",
      base::latency_buckets());
  return h;
}

base::counter& accepted_metric() {
  static auto& c = base::metrics().get_counter("smtpsd_messages_accepted_total", "Messages queued");
  return c;
}

base::counter& rows_held_metric() {
  static auto& c = base::metrics().get_counter(
      "smtpsd_commit_rows_held_total", "Messages answered before their queue rows were committed (with later ones)");
  return c;
}

void register_metrics() {
  rows_held_metric();
  commit_batch_metric();
  commit_seconds_metric();
  commit_wait_metric();
  accepted_metric();
}

group_committer::group_committer(std::shared_ptr<store::spool> spool, std::shared_ptr<store::queue_store> queue,
                                 gathering g, holding h)
    : spool_(std::move(spool)), queue_(std::move(queue)), gathering_(g), holding_(h),
      may_hold_(h.rows > 0 && queue_->replayed_through()),
      thread_(base::start_thread("smtpsd-commit", [this] { run(); })) {}

group_committer::~group_committer() { stop(); }

group_committer::arrival& group_committer::arrival::operator=(arrival&& o) noexcept {
  if (this != &o) {
    arrival gone(std::move(*this));
    c_ = std::exchange(o.c_, nullptr);
  }
  return *this;
}

// The committer is woken only when what it waits for has come: the first
// message of a batch, or the last one a gathering batch expects. Waking it
// for each arrival in between cost a futex wake and two context switches
// each, for it to find the count not yet zero and sleep again.
group_committer::arrival::~arrival() {
  if (!c_) return;
  bool wake = false;
  {
    std::lock_guard l(c_->mu_);
    wake = --c_->expected_ == 0 && !c_->pending_.empty();
  }
  if (wake) c_->cv_.notify_one();
}

group_committer::arrival group_committer::expect() {
  std::lock_guard l(mu_);
  ++expected_;
  return arrival(this);
}

void group_committer::submit(request r) {
  bool wake = false;
  {
    std::lock_guard l(mu_);
    if (std::exchange(r.expected.c_, nullptr)) --expected_;
    wake = pending_.empty() || expected_ == 0;
    pending_.push_back(std::move(r));
  }
  if (wake) cv_.notify_one();
}

void group_committer::hand_to(committed_mail* to) {
  std::lock_guard l(mail_mu_);
  mail_ = to;
}

void group_committer::stop() {
  {
    std::lock_guard l(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void group_committer::run() {
  // Swapped with pending_ and cleared after each commit, so that both keep
  // their capacity (no vector grown afresh for every batch).
  std::vector<request> batch;
  for (;;) {
    {
      std::unique_lock l(mu_);
      if (!held_.metas.empty() && !stopping_) {
        // Held rows are committed when no batch follows within holding_.idle,
        // when they have waited holding_.most, or when settle() asks (a batch
        // that comes takes them along when they are many: commit()).
        auto until = held_.since + holding_.most;  // failing: a try every holding_.most
        if (!held_.failing) until = std::min(until, std::chrono::steady_clock::now() + holding_.idle);
        cv_.wait_until(l, until, [&] { return stopping_ || !pending_.empty() || settle_asked_; });
        if (pending_.empty() || settle_asked_) {
          l.unlock();
          commit_held();
          continue;
        }
      }
      cv_.wait(l, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty() && stopping_) {
        l.unlock();
        if (!held_.metas.empty()) commit_held();  // a failure leaves them to the replay at start-up
        l.lock();
        finished_ = true;
        settled_.notify_all();
        return;
      }
      if (expected_ > 0 && !stopping_) {
        const auto t0 = std::chrono::steady_clock::now();
        cv_.wait_for(l, gather_limit(), [&] { return stopping_ || expected_ == 0; });
        commit_wait_metric().observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      batch.swap(pending_);
    }
    commit(batch);
    batch.clear();
  }
}

// Waiting for messages still arriving pays when it is short next to the
// commit it lets them share, so the wait is a multiple of the average commit:
// where a commit (a sync) takes 1 ms, up to 2 ms; where it takes 50 us, 100 us.
std::chrono::nanoseconds group_committer::gather_limit() const {
  const auto scaled = std::chrono::nanoseconds(
      static_cast<std::chrono::nanoseconds::rep>(gathering_.times_commit * static_cast<double>(commit_time_.count())));
  return std::clamp(scaled, gathering_.least, gathering_.most);
}

// The events of the batch's committed messages, consecutive requests for
// the same sink together (there is one sink in a server; tests may have
// several).
group_committer::event_runs group_committer::published(std::vector<request>& batch,
                                                       const std::vector<commit_result>& results) {
  event_runs runs;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& r = batch[i];
    if (results[i] || !r.publish_to || r.published.empty()) continue;
    if (runs.empty())  // one allocation for the usual single run
      runs.emplace_back(r.publish_to, std::vector<events::event>{}).second.reserve(total(batch, &request::published));
    add_to_runs(runs, r.publish_to, r.published);
  }
  return runs;
}

// Appends evs to the last run when it is for the same sink, else starts one
// with evs itself (and its capacity).
void group_committer::add_to_runs(event_runs& runs, events::sink* sink, std::vector<events::event>& evs) {
  if (runs.empty() || runs.back().first != sink) {
    runs.emplace_back(sink, std::move(evs));
    return;
  }
  std::move(evs.begin(), evs.end(), std::back_inserter(runs.back().second));
}

void group_committer::publish(event_runs& runs) {
  for (auto& [sink, evs] : runs) sink->stored(evs);
  runs.clear();
}

// The free space is looked at every 100 ms at most (a statfs each time).
bool group_committer::room_to_hold() {
  const auto now = std::chrono::steady_clock::now();
  if (now - free_checked_ >= std::chrono::milliseconds(100)) {
    const auto free = spool_->free_bytes();
    free_enough_ = !free || *free >= holding_.least_free;
    free_checked_ = now;
  }
  return free_enough_;
}

void group_committer::settle() {
  std::unique_lock l(mu_);
  if (!rows_held_) return;
  settle_asked_ = true;
  cv_.notify_one();
  settled_.wait(l, [&] { return !settle_asked_ || finished_; });  // one try: a failing store does not hold readers
}

void group_committer::hold(std::vector<store::queued_message>& metas, std::vector<store::stored_event>& events,
                           std::vector<request>& batch, const std::vector<commit_result>& results) {
  rows_held_metric().inc(metas.size());
  if (held_.metas.empty()) {
    held_.since = std::chrono::steady_clock::now();
    std::lock_guard l(mu_);
    rows_held_ = true;
  }
  std::move(metas.begin(), metas.end(), std::back_inserter(held_.metas));
  std::move(events.begin(), events.end(), std::back_inserter(held_.events));
  for (auto& [sink, evs] : published(batch, results))  // one call per sink for all held ones
    add_to_runs(held_.published, sink, evs);
  metas.clear();
  events.clear();
}

void group_committer::clear_held() {
  held_.metas.clear();  // their capacity stays, for the next rows held
  held_.events.clear();
  held_.published.clear();
  held_.since = {};
  held_.failing = false;
  {
    std::lock_guard l(mu_);
    rows_held_ = false;
    settle_asked_ = false;
  }
  settled_.notify_all();
}

// The held rows alone: nothing came to take them along. A failure keeps
// them (their clients were answered; the replay data still answers for
// them) for the next batch, which then does not wait.
void group_committer::commit_held() {
  std::lock_guard hand(mail_mu_);
  try {
    std::optional<store::spool_cover> cover;
    if (auto through = spool_->synced_through()) cover = store::spool_cover{*through, true};
    store::enqueue_covered(*queue_, *spool_, held_.metas, held_.events, {}, cover);
  } catch (const std::exception& e) {
    if (!held_.failing)
      base::logger("submission")->error("commit of {} answered messages failed (kept for the next one): {}",
                                        held_.metas.size(), e.what());
    held_.failing = true;
    held_.since = std::chrono::steady_clock::now();  // the next try: after holding_.most, or with a batch
    {
      std::lock_guard l(mu_);
      settle_asked_ = false;
    }
    settled_.notify_all();
    return;
  }
  const std::vector<std::int64_t> none;
  hand_over({}, held_.metas, none, {});
  publish(held_.published);
  clear_held();
}

void group_committer::commit(std::vector<request>& batch) {
  static auto log = base::logger("submission");
  auto& batches = commit_batch_metric();
  auto& latency = commit_seconds_metric();
  auto t0 = std::chrono::steady_clock::now();
  std::vector<store::spool_writer*> writers;
  std::vector<store::queued_message> metas;
  std::vector<std::string*> headers;  // of metas[i]'s request
  std::vector<std::size_t> from;      // metas[i]'s request in the batch
  std::vector<store::stored_event> events;
  std::vector<commit_result> results(batch.size());
  bool replayable = true;  // every message keeps its row and events with its body
  writers.reserve(batch.size());
  metas.reserve(batch.size());
  headers.reserve(batch.size());
  from.reserve(batch.size());
  events.reserve(total(batch, &request::events));
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& r = batch[i];
    try {
      r.body->finish(r.header_section);  // a large body's file gets its last write here, off the I/O threads
    } catch (const std::exception& e) {
      log->error("queue_id={} cannot write the header section: {}", r.meta.id, e.what());
      results[i] = policy::storage_failure(e);
      continue;
    }
    if (replayable) replayable = r.body->keep_replay(store::encode_replay(r.meta, r.events));
    writers.push_back(r.body.get());
    metas.push_back(std::move(r.meta));  // back to r.meta if the commit fails
    from.push_back(i);
    headers.push_back(&r.header_section);
    std::move(r.events.begin(), r.events.end(), std::back_inserter(events));  // read no more
  }
  std::lock_guard hand(mail_mu_);
  committed_mail::room room;
  std::vector<committed_message> handing;  // what delivery has room for, the first of the batch
  std::vector<std::int64_t> tokens;
  bool held = false;        // this batch's rows wait in held_
  held_rows taken_along;    // the held rows this batch's commit took along
  if (!writers.empty()) {
    if (mail_) room = mail_->reserve(metas.size());
    for (std::size_t i = 0; i < room.count; ++i)  // the content before the sync frees it; the header is written
      handing.push_back({{}, std::move(*headers[i]), writers[i]->content()});
    bool synced = false;
    std::size_t own = metas.size();  // this batch's rows; the held ones go after them
    try {
      spool_->sync(writers);  // bodies first: metadata never points at a body that is not on disk
      synced = true;
      std::optional<store::spool_cover> cover;
      if (auto through = spool_->synced_through()) cover = store::spool_cover{*through, replayable};
      // Rows may wait when their replay data is synced, delivery takes none
      // of them now, and fewer than holding_.rows wait already. Else every
      // held row goes in this commit: the position it records covers them too.
      if (may_hold_ && cover && replayable && room.count == 0 && !held_.failing &&
          held_.metas.size() + metas.size() < holding_.rows && room_to_hold()) {
        hold(metas, events, batch, results);
        held = true;
      } else {
        // The held rows move along; a failed commit moves them back.
        std::move(held_.metas.begin(), held_.metas.end(), std::back_inserter(metas));
        std::move(held_.events.begin(), held_.events.end(), std::back_inserter(events));
        tokens = store::enqueue_covered(*queue_, *spool_, metas, events, store::enqueue_lease{room.count, room.lease_until},
                                        cover);
        if (metas.size() > own) {  // held rows went along
          taken_along = std::move(held_);
          clear_held();
        }
      }
    } catch (const std::exception& e) {
      log->error("commit of {} messages failed: {}", writers.size(), e.what());
      auto failed = policy::storage_failure(e);
      for (auto& res : results)
        if (!res) res = failed;
      if (metas.size() > own) {  // the held rows were moved along: they stay held
        std::move(metas.begin() + static_cast<std::ptrdiff_t>(own), metas.end(), held_.metas.begin());
        std::move(events.end() - static_cast<std::ptrdiff_t>(held_.events.size()), events.end(), held_.events.begin());
      }
      metas.resize(own);
      if (synced && replayable) forget_replay(metas);
      for (std::size_t j = 0; j < own; ++j) batch[from[j]].meta = std::move(metas[j]);  // their ids, to remove the bodies
      metas.clear();
      if (!held_.metas.empty()) held_.failing = true;
    }
  }
  batches.observe(static_cast<double>(batch.size()));
  const auto took = std::chrono::steady_clock::now() - t0;
  latency.observe(std::chrono::duration<double>(took).count());
  const auto took_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(took);
  commit_time_ = commit_time_.count() == 0 ? took_ns : commit_time_ + (took_ns - commit_time_) / 8;
  if (!held) {
    auto runs = published(batch, results);
    publish(taken_along.published);  // the older first
    publish(runs);
  }
  hand_over(std::move(handing), metas, tokens, room);  // after the send events: a delivery's come later
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& r = batch[i];
    r.body.reset();  // closes the file
    if (results[i]) {
      try {
        spool_->remove(r.meta.id);
      } catch (const std::exception& e) {
        log->warn("queue_id={} cannot remove the uncommitted body: {}", r.meta.id, e.what());
      }
    }
    r.done(results[i]);
  }
}

// Their clients are refused: no replay may queue them after a restart.
void group_committer::forget_replay(const std::vector<store::queued_message>& metas) {
  std::vector<std::string> ids;
  ids.reserve(metas.size());
  for (const auto& m : metas) ids.push_back(m.id);
  try {
    spool_->forget_replay(ids);
  } catch (const std::exception& e) {
    base::logger("submission")->error("cannot spoil the replay data of {} refused messages: {}", ids.size(), e.what());
  }
}

// What was committed goes to delivery: the leased messages to start, the
// room they did not use, and whether others wait in the queue to be claimed.
void group_committer::hand_over(std::vector<committed_message> leased, std::vector<store::queued_message>& metas,
                                const std::vector<std::int64_t>& tokens, const committed_mail::room& room) {
  if (!mail_) return;
  leased.resize(std::min(tokens.size(), metas.size()));  // none when the commit failed
  for (std::size_t i = 0; i < leased.size(); ++i) {
    leased[i].meta = std::move(metas[i]);
    leased[i].meta.lease_token = tokens[i];
  }
  const bool others = metas.size() > leased.size();
  const std::size_t unused = room.count - leased.size();
  if (leased.empty() && unused == 0 && !others) return;
  mail_->taken(std::move(leased), unused, others);
}

}  // namespace smtpsd::submission
