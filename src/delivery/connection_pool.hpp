#pragma once
// Connections per next hop (Postfix's smtp_reuse and the qmgr's destination
// concurrency): at most `per_destination` in use at once for one hop key,
// waiters served in order; connections that ended a transaction cleanly
// kept idle for reuse, and closed once idle longer than `idle`. One
// io_context thread only.
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "delivery/smtp_client.hpp"

namespace smtpsd::delivery {

class connection_pool {
 public:
  // One of a hop's connection slots, held for as long as it lives.
  class slot {
   public:
    slot(connection_pool* p, std::string key) : pool_(p), key_(std::move(key)) {}
    slot(slot&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), key_(std::move(o.key_)) {}
    slot& operator=(slot&&) = delete;
    ~slot() {
      if (pool_) pool_->release(key_);
    }

   private:
    connection_pool* pool_;
    std::string key_;
  };

  connection_pool(unsigned per_destination, std::chrono::steady_clock::duration idle);

  // Waits for a slot of the hop; nullopt once the pool shuts down.
  net::awaitable<std::optional<slot>> acquire(const std::string& key);
  // A connection to the hop that is not yet idle too long, or nullptr.
  std::unique_ptr<smtp_client> take_idle(const std::string& key);
  // Keeps a connection that is ready for another transaction; hands it back
  // when the hop already has `per_destination` idle ones.
  std::unique_ptr<smtp_client> keep(const std::string& key, std::unique_ptr<smtp_client> c);
  // Closes idle connections past their time (all of them when `all`).
  // Without a QUIT round trip: nothing is in progress on them, and the
  // remote times them out the same way.
  void reap(bool all);
  // Waiters for a slot give up; slots in use stay until released.
  void shutdown();

  unsigned in_use(const std::string& key) const;
  std::size_t idle_count(const std::string& key) const;

 private:
  struct waiter {
    explicit waiter(const net::asio::any_io_executor& ex) : wake(ex, net::asio::steady_timer::time_point::max()) {}
    net::asio::steady_timer wake;
    bool granted = false;  // release() handed its slot over
  };
  struct gate {
    unsigned active = 0;
    std::deque<std::shared_ptr<waiter>> waiters;
  };
  struct idle_connection {
    std::unique_ptr<smtp_client> client;
    std::chrono::steady_clock::time_point since;
  };
  void release(const std::string& key);

  unsigned per_destination_;
  std::chrono::steady_clock::duration idle_time_;
  bool stopping_ = false;
  std::map<std::string, gate> gates_;
  std::map<std::string, std::vector<idle_connection>> idle_;
};

}  // namespace smtpsd::delivery
