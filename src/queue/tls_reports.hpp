#pragma once
// TLS-RPT reports out (RFC 8460 §5): each finished window of a policy
// domain becomes one JSON report, gzipped, sent to every `rua` the domain
// publishes: `mailto:` as a report mail queued through submission like a DSN,
// `https:` as a POST of application/tlsrpt+gzip. A failed POST is logged and
// not retried (§5.4 leaves retries to the sender; a day's report is small).
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/random.hpp"
#include "delivery/deliverer.hpp"
#include "net/asio.hpp"
#include "net/worker_pool.hpp"
#include "submission/queue_writer.hpp"

namespace smtpsd::queue {

struct tls_report_context {
  std::string hostname;  // the submitter, and postmaster@hostname sends the mail
  net::worker_pool* pool = nullptr;
  submission::queue_writer* writer = nullptr;
  base::random_source* random = nullptr;
  const base::clock* clock = nullptr;
};

net::awaitable<void> send_tls_reports(const std::vector<delivery::finished_tls_report>& reports,
                                      const tls_report_context& ctx);

}  // namespace smtpsd::queue
