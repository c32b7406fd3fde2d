#pragma once
// The one writer into the queue. Sessions hand over sealed messages; one
// thread takes everything waiting, ends each body with its header section,
// makes the bodies durable together (the embedded spool: one pwritev and one
// fdatasync for the batch), commits all their metadata in one transaction,
// and only then reports back. While one batch
// syncs, the next one gathers, so under load many messages share each sync.
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/metrics.hpp"
#include "policy/rejection.hpp"
#include "store/stores.hpp"

namespace smtpsd::submission {

// nullopt: committed; else why not (policy::storage_failure).
using commit_result = std::optional<policy::rejection>;

// Submission's metrics, each defined once; register_metrics() makes them
// exist at zero from start-up.
base::histogram& commit_batch_metric();
base::histogram& commit_seconds_metric();
base::counter& accepted_metric();  // smtpsd_messages_accepted_total
void register_metrics();

class group_committer {
 public:
  struct request {
    std::unique_ptr<store::spool_writer> body;  // the body written; finished here
    std::string header_section;
    store::queued_message meta;
    std::vector<store::stored_event> events;  // stored with the message, in its transaction
    std::function<void(const commit_result&)> done;  // runs on the committer thread
  };

  group_committer(std::shared_ptr<store::spool> spool, std::shared_ptr<store::queue_store> queue);
  ~group_committer();

  void submit(request r);
  // Commits what is waiting, then stops the thread.
  void stop();

 private:
  void run();
  void commit(std::vector<request>& batch);

  std::shared_ptr<store::spool> spool_;
  std::shared_ptr<store::queue_store> queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<request> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace smtpsd::submission
