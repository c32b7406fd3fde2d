#pragma once
// The SMTP deliverer: for each job, a slot of its next hop's connections; an
// idle connection when there is one (a fresh one when it turns out stale),
// else DNS (cached briefly) and the connector; then the transaction; a
// connection that ended cleanly goes back to the pool. Runs on one
// io_context thread; DNS lookups go to the worker pool.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "delivery/connection_pool.hpp"
#include "delivery/connector.hpp"
#include "delivery/deliverer.hpp"
#include "delivery/next_hop.hpp"
#include "delivery/resolver.hpp"
#include "delivery/tls_policy.hpp"
#include "net/worker_pool.hpp"

namespace smtpsd::delivery {

struct smtp_settings {
  std::string hostname;  // our EHLO name
  route_settings routes;
  std::optional<smarthost_credentials> smarthost;  // with routes.smarthost
  std::vector<base::host_port> resolvers;
  unsigned per_destination = 10;
  timeouts limits;
  std::chrono::seconds idle = std::chrono::seconds(10);  // keep a finished connection this long for reuse
  tls_policy_settings tls;  // MTA-STS and DANE (tls_policy.hpp)
  std::int64_t tls_report_period = 86400;  // TLS-RPT window, seconds
  std::filesystem::path tls_report_state;  // "" = memory only
};

class smtp_deliverer final : public deliverer {
 public:
  smtp_deliverer(net::worker_pool& pool, smtp_settings s);

  next_hop route(std::string_view domain) const override { return router_.route(domain); }
  net::awaitable<std::vector<outcome>> deliver(const job& j) override;
  void reap(bool all) override { connections_.reap(all); }
  void shutdown() override { connections_.shutdown(); }
  net::awaitable<std::vector<finished_tls_report>> finished_tls_reports() override;

 private:
  net::awaitable<resolution> resolve(const next_hop& hop);
  static void note_tls(smtp_client& c, std::vector<outcome>& outcomes);
  // The TLS plan for the hop's hosts, kept as long as its DNS answer.
  net::awaitable<tls_plan> plan(const next_hop& hop, const resolution& where);
  // Back to the pool when reusable and there is room, else closed.
  net::awaitable<void> finish(const std::string& key, std::unique_ptr<smtp_client> c, bool reusable);

  net::worker_pool& pool_;
  router router_;
  resolver resolver_;
  tls_report_book reports_;
  connector connector_;
  tls_policies policies_;
  connection_pool connections_;
  struct cached {
    resolution r;
    std::chrono::steady_clock::time_point until;
    std::optional<tls_plan> plan;
  };
  std::map<std::string, cached> dns_cache_;
};

}  // namespace smtpsd::delivery
