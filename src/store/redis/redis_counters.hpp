#pragma once
// store::counters in Redis (hiredis), each operation one atomic Lua script
// that reads Redis's own clock, so nodes with skewed clocks agree. Keys:
// smtpsd:rate:ID (token bucket), smtpsd:day:ID (recipients per minute, a
// hash pruned past 24 hours), smtpsd:auth:IP (failure times, a sorted set).
// One connection, reconnected on the next call after an error; a call that
// cannot reach Redis throws a transient store_error within about a second.
#include <hiredis/hiredis.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/counters.hpp"

namespace smtpsd::store::redis {

struct redis_address {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  int db = 0;
};
// redis://[:password@]host[:port][/db]; nullopt when it is not one.
std::optional<redis_address> parse_redis_url(std::string_view url);

class redis_counters final : public counters {
 public:
  // Connects at once: start-up fails with Redis's reason.
  explicit redis_counters(redis_address a);
  ~redis_counters() override;
  decision reserve(std::int64_t account_id, double rate, std::uint64_t max_24h) override;
  // Does not wait: a thread of its own gives the recipients back (it is
  // called when a transaction ends, on any thread, I/O threads included).
  void release(std::int64_t account_id, unsigned n, double rate) override;
  std::uint64_t usage_24h(std::int64_t account_id) override;
  unsigned add_auth_failure(std::string_view ip, std::chrono::seconds window) override;
  unsigned auth_failures(std::string_view ip, std::chrono::seconds window) override;

 private:
  struct reply_deleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
  };
  using reply = std::unique_ptr<redisReply, reply_deleter>;
  reply eval(const char* script, const std::vector<std::string>& keys, const std::vector<std::string>& args);
  void connect();
  void give_back_loop();

  redis_address a_;
  std::mutex mu_;
  redisContext* c_ = nullptr;

  struct returned {
    std::int64_t account_id;
    unsigned n;
    double rate;
  };
  std::mutex returns_mu_;
  std::condition_variable returns_cv_;
  std::deque<returned> returns_;
  bool stopping_ = false;
  std::thread returner_;
};

}  // namespace smtpsd::store::redis
