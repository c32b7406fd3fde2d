#include "queue/tls_reports.hpp"

#include <fmt/format.h>

#include "base/log.hpp"
#include "base/metrics.hpp"
#include "base/time_format.hpp"
#include "net/http_client.hpp"
#include "net/tls.hpp"

namespace smtpsd::queue {

namespace {

base::counter& sent_metric(std::string_view how, std::string_view result) {
  return base::metrics().get_counter("smtpsd_tls_reports_total", "TLS-RPT reports sent, by way and result",
                                     {{"via", std::string(how)}, {"result", std::string(result)}});
}

// "mailto:a@b?subject=x" -> "a@b" (RFC 6068; reporting addresses are plain).
std::string mailto_address(const std::string& uri) {
  auto a = uri.substr(7);
  if (auto q = a.find('?'); q != std::string::npos) a.resize(q);
  return a;
}

}  // namespace

net::awaitable<void> send_tls_reports(const std::vector<delivery::finished_tls_report>& reports,
                                      const tls_report_context& ctx) {
  auto log = base::logger("queue");
  const std::string from = "postmaster@" + ctx.hostname;
  for (const auto& r : reports) {
    const auto id = fmt::format("{}.{:016x}", r.window.start, ctx.random->next_u64());
    const auto json = delivery::tlsrpt_json(r.window, ctx.hostname, from, id);
    const auto gz = delivery::gzip(json);
    for (const auto& rua : r.rua) {
      if (rua.starts_with("mailto:")) {
        const auto to = mailto_address(rua);
        submission::generated_message m{from, to,
                                        delivery::tlsrpt_mail(r.window, ctx.hostname, from, to, id, gz,
                                                              base::rfc5322_date(ctx.clock->now()))};
        auto* writer = ctx.writer;
        auto queue_it = [writer, m] { writer->enqueue_generated(m); };
        co_await ctx.pool->run(std::move(queue_it));
        sent_metric("mailto", "queued").inc();
        log->info("TLS report {} for {} queued to {}", id, r.window.domain, to);
        continue;
      }
      auto url = net::parse_http_url(rua);
      if (!url) {
        log->warn("TLS report for {}: rua {} is not a URL", r.window.domain, rua);
        continue;
      }
      auto ex = co_await net::asio::this_coro::executor;
      net::http_client::options o;
      o.timeout = std::chrono::seconds(30);
      o.max_idle = 0;
      net::http_client client(ex, *url, net::make_client_context(net::client_tls_options{}), o);
      const net::http_headers headers{{"Content-Type", "application/tlsrpt+gzip"}};
      auto res = co_await client.post(gz, headers);
      const bool ok = res.status >= 200 && res.status < 300;
      sent_metric("https", ok ? "ok" : "failed").inc();
      if (ok) log->info("TLS report {} for {} posted to {}", id, r.window.domain, rua);
      else log->warn("TLS report {} for {} to {}: {}", id, r.window.domain, rua,
                     res.status ? "HTTP " + std::to_string(res.status) : res.error);
    }
  }
}

}  // namespace smtpsd::queue
