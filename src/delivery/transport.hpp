#pragma once
// Delivers one message's recipients at one domain: finds the next hop (the
// smarthost, a route, or the domain's MX hosts), holds one of that hop's
// connection slots, reuses an idle connection or opens one (opportunistic
// STARTTLS, implicit TLS and AUTH for a smarthost), runs the transaction
// (PIPELINING, SIZE, 8BITMIME, SMTPUTF8, BDAT when offered) and returns an
// outcome per recipient. It never touches storage: the queue records what
// comes back. Runs on one io_context thread; DNS goes to the worker pool.
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.hpp"
#include "delivery/resolver.hpp"
#include "delivery/smtp_client.hpp"
#include "net/worker_pool.hpp"

namespace smtpsd::delivery {

struct recipient {
  std::string address;
  std::string notify;  // "FAILURE,DELAY" as it goes on the wire, or empty
  std::string orcpt;   // "rfc822;xtext", or empty
};

// The message as it goes after DATA (header section, blank line, body), in
// chunks; an empty chunk is the end. Throws when the bytes cannot be read.
class content_source {
 public:
  virtual ~content_source() = default;
  virtual net::awaitable<std::string> next() = 0;
};

struct job {
  std::string queue_id;
  std::string from;
  std::vector<recipient> rcpts;  // all at one domain
  std::uint64_t size = 0;
  bool eightbit = false;
  bool smtputf8 = false;
  std::string ret;    // "FULL"/"HDRS" or empty
  std::string envid;  // xtext or empty
  std::function<std::unique_ptr<content_source>()> open;
};

enum class outcome_kind { delivered, deferred, failed };
std::string_view to_string(outcome_kind k);

struct outcome {
  outcome_kind kind = outcome_kind::deferred;
  std::string response;    // "250 2.0.0 Ok", the remote's reply or our reason
  std::string status;      // enhanced status: "2.0.0", "5.1.1", "4.4.1"
  std::string remote_mta;  // the host that answered, or empty
  bool remote = false;     // the response is the remote server's, not ours
  bool attempted = true;   // false: stopped before trying; nothing to record
};

struct smarthost_settings {
  base::host_port address;
  bool implicit_tls = false;
  std::string username;
  std::string password;
  std::string ca_file;
};

struct transport_settings {
  std::string hostname;  // our EHLO name
  std::uint16_t mx_port = 25;
  std::map<std::string, base::host_port> routes;  // domain (either IDN form, any case) or "*"
  std::optional<smarthost_settings> relay;
  std::vector<base::host_port> resolvers;
  unsigned per_destination = 10;
  timeouts limits;
  std::chrono::seconds idle = std::chrono::seconds(10);  // keep a finished connection this long for reuse
};

class transport {
 public:
  transport(net::worker_pool& pool, transport_settings s);
  ~transport();

  // One outcome per job.rcpts entry, in order. `domain` chooses the next hop;
  // the recipients may be at any domains that share it.
  net::awaitable<std::vector<outcome>> deliver(const job& j, const std::string& domain);
  // The next hop mail for `domain` goes to ("smarthost", "route:host:port",
  // "mx:a-label.domain"): recipients with the same one share a transaction.
  std::string destination(const std::string& domain) const { return route(domain).key; }
  // Closes idle connections past their time (all of them when `all`).
  void reap(bool all);
  // Deliveries still waiting for a connection slot give up (not attempted);
  // those in a transaction finish.
  void shutdown();

 private:
  struct next_hop {
    std::string key;     // what concurrency and reuse are counted by
    bool mx = false;     // look up MX records of `name`, else the address of `name`
    std::string name;
    std::uint16_t port = 25;
    bool smarthost = false;
  };
  struct idle_connection {
    std::unique_ptr<smtp_client> client;
    std::chrono::steady_clock::time_point since;
  };
  struct gate {
    unsigned active = 0;
    std::deque<std::shared_ptr<net::asio::steady_timer>> waiters;
  };
  class permit;

  next_hop route(const std::string& domain) const;
  net::awaitable<bool> acquire(const std::string& key);
  void release(const std::string& key);
  net::awaitable<resolution> resolve(const next_hop& hop);
  // A connected, greeted (and, where it applies, TLS'd and authenticated) client, or why not.
  net::awaitable<std::pair<std::unique_ptr<smtp_client>, outcome>> open(const next_hop& hop, const resolution& where);
  net::awaitable<std::unique_ptr<smtp_client>> open_one(const next_hop& hop, const mx_host& host, std::string& why,
                                                        std::optional<outcome>& stop);
  net::awaitable<std::vector<outcome>> transaction(smtp_client& c, const job& j, bool& reusable, bool& stale);

  net::worker_pool& pool_;
  transport_settings s_;
  resolver resolver_;
  std::shared_ptr<net::ssl::context> opportunistic_tls_;
  std::shared_ptr<net::ssl::context> relay_tls_;
  std::map<std::string, gate> gates_;
  bool stopping_ = false;
  std::map<std::string, std::vector<idle_connection>> idle_;
  struct cached { resolution r; std::chrono::steady_clock::time_point until; };
  std::map<std::string, cached> dns_cache_;
};

}  // namespace smtpsd::delivery
