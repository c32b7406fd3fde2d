#pragma once
// One webhook (SPEC §5): reads the event log after its cursor, POSTs each
// event it wants (by type, account, configuration set) as JSON in its format
// with a signature, over keep-alive connections, and moves its cursor past
// what is done. Requests go in batches written at once (HTTP pipelining, up
// to `pipeline`), at most `max_in_flight` batches out; while one is out, a
// partial batch waits for it, so a busy webhook sends fewer, larger writes
// and a quiet one sends each event at once. At least once: the cursor is
// stored durably and only ever passes events that were answered 2xx or
// dead-lettered, so a restart (even kill -9) sends again what was in flight
// (the receiver sees the same event_id). A 5xx, 408, 429 or network failure
// is retried with exponential back-off (1 s doubling to max_backoff); while
// the receiver fails, one event at a time probes it. An answer in 4xx
// (but 408 and 429) will not get better: the event is dead-lettered at once,
// as is one still failing after max_age. Dead letters stay in the store
// until `smtpsd events redeliver` asks for them again.
#include <chrono>
#include <deque>
#include <memory>
#include <set>
#include <string>

#include "base/clock.hpp"
#include "events/log_reader.hpp"
#include "events/recent.hpp"
#include "net/http_client.hpp"
#include "net/worker_pool.hpp"
#include "store/event_store.hpp"

namespace smtpsd::events {

struct webhook_settings {
  std::string name;  // the key of its cursor and dead letters
  std::string url;
  std::string secret;
  std::set<std::string> types;       // empty: every type
  std::set<std::string> accounts;    // empty: every account
  std::string configuration_set;     // set: only events of messages in this configuration set
  enum class format { smtpsd, ses } fmt = format::smtpsd;
  std::string ca_file;               // trust this CA instead of the system's
  unsigned max_in_flight = 4;  // connections with requests out at once
  unsigned pipeline = 16;      // requests written at once on one connection; 1: one at a time
  std::chrono::seconds max_age{86400};
  std::chrono::seconds timeout{10};
  std::chrono::seconds max_backoff{3600};
};

// What a webhook's answer means for the event.
enum class answer { delivered, retry, dead };
answer judge(int http_status);
// The wait before retry number `failures` (1 s, 2 s, 4 s, … at most `cap`).
std::chrono::seconds backoff(unsigned failures, std::chrono::seconds cap);

class webhook {
 public:
  // log: the event log, read on this thread; store: cursors and dead
  // letters, written on the pool; recent: events still in memory (may be null).
  webhook(net::asio::any_io_executor ex, webhook_settings s, log_reader& log, std::shared_ptr<store::event_store> store,
          std::shared_ptr<const recent_events> recent, net::worker_pool& pool, const base::clock& clock,
          std::string hostname);
  ~webhook();

  net::awaitable<void> run();
  void wake();
  void stop();
  std::int64_t backlog() const { return backlog_; }
  const webhook_settings& settings() const { return s_; }

 private:
  struct entry {
    log_reader::row row;
    std::string body;
    unsigned attempts = 0;
    base::time_point not_before{};
    bool in_flight = false;
    bool done = false;
    bool redelivery = false;
  };
  using entry_ptr = std::shared_ptr<entry>;

  bool wanted(const store::stored_event& e) const;
  std::string body_of(const store::stored_event& e) const;
  net::awaitable<void> start_cursor();
  void load();
  net::awaitable<void> load_redeliveries();
  void launch();
  net::awaitable<void> send(std::vector<entry_ptr> batch);
  net::awaitable<answer> settle(entry& e, const net::http_result& r);
  net::awaitable<void> dead_letter(entry& e, const std::string& reason);
  net::awaitable<void> save_cursor(bool force);
  base::time_point next_wake() const;

  webhook_settings s_;
  log_reader& log_;
  std::shared_ptr<store::event_store> store_;
  std::shared_ptr<const recent_events> recent_;
  net::worker_pool& pool_;
  const base::clock& clock_;
  std::string hostname_;
  net::asio::any_io_executor ex_;
  net::http_client client_;
  net::asio::steady_timer timer_;
  std::deque<entry_ptr> window_;      // in seq order; done ones leave from the front
  std::deque<entry_ptr> redelivery_;  // dead letters asked for again
  std::int64_t read_up_to_ = 0;       // the last seq read from the log
  std::int64_t cursor_ = 0;           // everything at or before it is done
  std::int64_t saved_cursor_ = 0;
  std::atomic<std::int64_t> backlog_{0};
  base::time_point saved_at_{};
  base::time_point redeliveries_checked_{};
  base::time_point paused_until_{};
  unsigned in_flight_ = 0;  // batches out
  unsigned failing_ = 0;    // consecutive batches with a failed request
  bool woken_ = false;
  bool stopping_ = false;
};

}  // namespace smtpsd::events
