#pragma once
// The event sink the server uses. Every event goes to the journal
// (events.jsonl) at once. Events that report a queue change arrive already
// stored (in the queue's transaction); the others (rejects) are appended to
// the event store by one thread in batches, as the group committer does for
// messages, so a session never waits on a disk. When the store cannot take
// them (a full disk) they are kept in memory and retried, and accepting()
// turns false so new mail is refused with 452 before any event is lost.
// Whoever dispatches the webhooks hears of new events through on_stored().
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "events/event.hpp"
#include "events/journal.hpp"
#include "events/recent.hpp"
#include "store/event_store.hpp"

namespace smtpsd::events {

class publisher final : public sink {
 public:
  // headers: keep the header fields for SES-format webhooks. webhooks: keep
  // the last events in memory for them (recent()); without webhooks nothing
  // would read them.
  publisher(std::shared_ptr<store::event_store> store, const std::filesystem::path& journal_file, bool headers,
            bool webhooks);
  ~publisher() override;

  void emit(event e) override;
  void stored(std::span<const event> events) override;
  bool accepting() const override { return accepting_; }
  bool wants_headers() const override { return headers_; }

  // f runs after events reach the store (on any thread).
  void on_stored(std::function<void()> f);
  // The events of the last moments, for the webhooks; null without webhooks.
  std::shared_ptr<recent_events> recent() const { return recent_; }
  // Stores what is waiting (trying for at most `patience`), then stops the thread.
  void stop(std::chrono::seconds patience = std::chrono::seconds(5));

 private:
  void run();
  void notify();

  std::shared_ptr<store::event_store> store_;
  journal journal_;
  bool headers_;
  std::shared_ptr<recent_events> recent_;
  std::atomic<bool> accepting_{true};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<event> waiting_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point give_up_{};
  std::mutex notify_mu_;
  std::function<void()> on_stored_;
  std::thread thread_;
};

}  // namespace smtpsd::events
