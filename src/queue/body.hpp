#pragma once
// A claimed message's body, read from the spool on the worker pool: its
// header section (for a DSN) and a way to stream the content to delivery. A
// small message is read whole, once, and shared by every next hop; a large
// one streams from the spool a chunk at a time for each hop.
#include <functional>
#include <memory>
#include <string>

#include "delivery/deliverer.hpp"
#include "net/worker_pool.hpp"
#include "store/queue_store.hpp"
#include "store/spool.hpp"
#include "store/types.hpp"

namespace smtpsd::queue {

struct loaded_body {
  enum class state {
    ok,
    unavailable,  // cannot be read now (transient): the lease runs out and it is tried again
    corrupt,      // incomplete or damaged: moved aside
  };
  state st = state::ok;
  std::string problem;  // with unavailable and corrupt
  std::string headers;  // the header section, CRLF lines
  std::function<std::unique_ptr<delivery::content_source>()> open;
};

class body_loader {
 public:
  static constexpr std::uint64_t small_message = 1024 * 1024;  // read at once; larger ones stream
  static constexpr std::size_t chunk_size = 256 * 1024;

  body_loader(std::shared_ptr<store::spool> spool, net::worker_pool& pool) : spool_(std::move(spool)), pool_(pool) {}
  net::awaitable<loaded_body> load(const store::queued_message& m);
  // A message already in memory (handed over by the committer).
  static loaded_body in_memory(std::string headers, std::shared_ptr<const std::string> whole);
  // Moves a corrupt entry aside (the body kept for inspection, the queue entry dropped).
  net::awaitable<void> quarantine(store::queue_store& queue, const std::string& id);

 private:
  std::shared_ptr<store::spool> spool_;
  net::worker_pool& pool_;
};

}  // namespace smtpsd::queue
