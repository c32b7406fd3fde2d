#pragma once
// What the queue hands to delivery and gets back (chasquid's courier:
// Deliver → result, permanent?): a job is one message's recipients behind
// one next hop; the answer is one outcome per recipient. The SMTP
// implementation is smtp_deliverer; tests use a fake. Delivery never touches
// storage: the queue records what comes back.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/envelope.hpp"
#include "delivery/next_hop.hpp"
#include "delivery/outcome.hpp"
#include "delivery/tls_report.hpp"
#include "net/asio.hpp"
#include "smtp/client.hpp"

namespace smtpsd::delivery {

struct recipient {
  std::string address;
  base::dsn_notify notify;
  std::string orcpt;  // "rfc822;xtext", or empty
};

// The message as it goes after DATA (header section, blank line, body), in
// chunks; an empty chunk is the end. A chunk is the source's: valid until the
// next call or the source's end (a message held in memory is not copied).
// Throws when the bytes cannot be read.
class content_source {
 public:
  virtual ~content_source() = default;
  virtual net::awaitable<std::string_view> next() = 0;
};

struct job {
  std::string queue_id;
  std::string from;
  smtp::mail_options mail;        // SIZE, BODY, SMTPUTF8, RET, ENVID as submitted
  std::vector<recipient> rcpts;   // every one behind `hop`
  next_hop hop;
  std::function<std::unique_ptr<content_source>()> open;
};

// A finished TLS-RPT window of a domain and where the domain wants its
// reports (`_smtp._tls` rua: "mailto:…", "https://…").
struct finished_tls_report {
  tlsrpt_window window;
  std::vector<std::string> rua;
};

class deliverer {
 public:
  virtual ~deliverer() = default;
  // The next hop for a recipient domain; recipients with the same hop key
  // go in one job.
  virtual next_hop route(std::string_view domain) const = 0;
  // One outcome per j.rcpts entry, in order. Runs on the caller's executor.
  virtual net::awaitable<std::vector<outcome>> deliver(const job& j) = 0;
  // Housekeeping, every few seconds: closes idle connections past their time
  // (all of them when `all`).
  virtual void reap(bool all) = 0;
  // Jobs waiting to start give up (not attempted); those under way finish.
  virtual void shutdown() = 0;
  // TLS-RPT windows that have ended, with their domains' report addresses
  // (domains without any are dropped); the book is saved meanwhile.
  virtual net::awaitable<std::vector<finished_tls_report>> finished_tls_reports() {
    co_return std::vector<finished_tls_report>{};
  }
};

}  // namespace smtpsd::delivery
