#include "server/server.hpp"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <set>
#include <thread>

#include "admin/api.hpp"
#include "admin/http_server.hpp"
#include "events/dispatcher.hpp"
#include "events/publisher.hpp"
#include "server/log.hpp"
#include "base/metrics.hpp"
#include "base/thread.hpp"
#include "delivery/smtp_deliverer.hpp"
#include "net/coro.hpp"
#include "net/listener.hpp"
#include "net/scheduling.hpp"
#include "net/user.hpp"
#include "net/worker_pool.hpp"
#include "policy/authenticator.hpp"
#include "policy/connections.hpp"
#include "policy/submission_policy.hpp"
#include "inbound/verp.hpp"
#include "queue/feedback.hpp"
#include "queue/queue_manager.hpp"
#include "server/metrics.hpp"
#include "server/session.hpp"
#include "service/accounts.hpp"
#include "service/dkim_keys.hpp"
#include "submission/group_committer.hpp"
#include "submission/recovery.hpp"
#include "submission/submitter.hpp"

namespace smtpsd::server {

namespace {

net::server_tls_options tls_options(const config::config& c) {
  net::server_tls_options o;
  for (auto& cert : c.tls.certificates) o.certificates.push_back({cert.cert, cert.key});
  o.min_version = c.tls.min_version;
  return o;
}

// The SMTP deliverer for a configuration: routes, smarthost (its password read
// now), resolvers, limits.
std::unique_ptr<delivery::deliverer> make_deliverer(net::worker_pool& pool, const config::config& c) {
  delivery::smtp_settings t;
  t.hostname = c.hostname;
  t.routes.mx_port = c.delivery.mx_port;
  t.routes.routes = c.delivery.routes;
  t.routes.route_tls = c.delivery.route_tls;
  t.resolvers = c.delivery.resolvers;
  t.tls.enforce_policies = c.delivery.tls_policy == "dane-mta-sts";
  t.tls.resolvers = c.delivery.resolvers;
  t.tls.trust_anchor = c.delivery.dnssec_trust_anchor.string();
  t.tls.sts_port = c.delivery.mta_sts_port;
  t.tls.sts_cache = c.data_dir / "mta-sts.json";
  t.tls_report_period = static_cast<std::int64_t>(c.delivery.tls_report_period_s);
  t.tls_report_state = c.data_dir / "tls-rpt.json";
  t.per_destination = c.delivery.per_destination;
  t.limits.connect = std::chrono::seconds(c.delivery.connect_timeout_s);
  t.limits.command = std::chrono::seconds(c.delivery.command_timeout_s);
  t.limits.data = std::chrono::seconds(std::max(c.delivery.command_timeout_s, 600u));
  if (c.delivery.relay) {
    const auto& r = *c.delivery.relay;
    t.routes.smarthost = r.address;
    delivery::smarthost_credentials h;
    h.implicit_tls = r.mode == config::listener_mode::implicit_tls;
    h.username = r.username;
    h.ca_file = r.ca_file.string();
    if (!r.password_file.empty()) {
      std::ifstream in(r.password_file);
      if (!in) throw std::runtime_error(r.password_file.string() + ": cannot read the smarthost password");
      std::getline(in, h.password);
      if (!h.password.empty() && h.password.back() == '\r') h.password.pop_back();
    }
    t.smarthost = h;
  }
  return std::make_unique<delivery::smtp_deliverer>(pool, std::move(t));
}

// The webhooks of the configuration: [[events.webhooks]] get every event
// their filters take; a configuration set's own get only its messages'.
std::vector<events::webhook_settings> webhooks(const config::config& c) {
  std::vector<events::webhook_settings> out;
  auto add = [&](const config::webhook& w, const std::string& set) {
    events::webhook_settings s;
    s.name = w.name;
    s.url = w.url;
    s.secret = w.secret;
    s.types = {w.types.begin(), w.types.end()};
    s.accounts = {w.accounts.begin(), w.accounts.end()};
    s.configuration_set = set;
    s.fmt = w.format == "ses" ? events::webhook_settings::format::ses : events::webhook_settings::format::smtpsd;
    s.ca_file = w.ca_file.string();
    s.max_in_flight = w.max_in_flight;
    s.pipeline = w.pipeline;
    s.max_age = std::chrono::seconds(w.max_age_s);
    s.timeout = std::chrono::seconds(w.timeout_s);
    s.max_backoff = std::chrono::seconds(w.max_backoff_s);
    out.push_back(std::move(s));
  };
  for (auto& w : c.events.webhooks) add(w, "");
  for (auto& set : c.configuration_sets)
    for (auto& w : set.webhooks) add(w, set.name);
  return out;
}

bool any_ses_webhook(const config::config& c) {
  for (auto& w : webhooks(c))
    if (w.fmt == events::webhook_settings::format::ses) return true;
  return false;
}

submission::settings submission_settings(const config::config& c, std::shared_ptr<dkim::keystore> dkim) {
  submission::settings s{c.hostname, 1024 * 1024, std::move(dkim), {}, std::chrono::seconds(c.limit.duplicate_window_s)};
  for (auto& set : c.configuration_sets) s.configuration_sets.insert(set.name);
  return s;
}

// Every domain's DKIM keys load now: a missing, unreadable or wrong key stops
// serve with a message naming the file.
std::shared_ptr<dkim::keystore> load_dkim(const config::config& c, const store::stores& s) {
  auto k = std::make_shared<dkim::keystore>(service::dkim_files(c, s));
  k->check_all();
  return k;
}

// One I/O thread: its io_context, its acceptors and the sessions it runs.
struct io_thread {
  net::asio::io_context io{1};
  std::vector<net::tcp::acceptor> acceptors;
  std::set<std::shared_ptr<session>> sessions;  // only touched on this thread
  std::thread thread;
};

class server {
 public:
  server(const config::config& cfg, store::stores stores)
      : cfg_(cfg),
        stores_(std::move(stores)),
        pool_(std::max(2u, std::thread::hardware_concurrency())),
        committer_(stores_.bodies, stores_.queue),
        throttle_(base::real_clock(), cfg.auth.failures_before_throttle, std::chrono::seconds(cfg.auth.failure_window_s)),
        api_throttle_(base::real_clock(), cfg.auth.failures_before_throttle,
                      std::chrono::seconds(cfg.auth.failure_window_s)),
        auth_(stores_.accounts, base::real_clock(), std::chrono::minutes(5), &throttle_),
        policy_(stores_.accounts, stores_.suppressions, stores_.queue, base::real_clock(),
                policy::policy_defaults{cfg.limit.default_max_send_rate, cfg.limit.default_max_24h,
                                        cfg.limit.max_message_bytes}),
        connections_(cfg.limit.max_connections, cfg.limit.max_connections_per_ip),
        events_(std::make_unique<events::publisher>(stores_.events, cfg.data_dir / "events.jsonl", any_ses_webhook(cfg),
                                                    !webhooks(cfg).empty())),
        dispatcher_(stores_.events, events_->recent(), pool_, webhooks(cfg), cfg.hostname, base::real_clock(),
                    std::chrono::hours(24 * cfg.events.retention_days)),
        dkim_(load_dkim(cfg, stores_)),
        submit_(stores_, committer_, submission_settings(cfg, dkim_), base::real_clock(),
                base::real_random(), events_.get()),
        reputation_(stores_.accounts, base::real_clock(), service::reputation_thresholds(cfg.reputation)),
        verp_key_(cfg.bounces.domain.empty() ? std::string() : inbound::verp_key(stores_.accounts->installation_secret())),
        feedback_(stores_, reputation_, *events_, base::real_clock(), base::real_random(),
                  queue::feedback_settings{cfg.bounces.domain, verp_key_}),
        tls_(net::server_tls::load(tls_options(cfg))) {
    if (auto shared = stores_.shared_counters) {  // several nodes: limits and SMTP AUTH failures counted in Redis
      throttle_.use_shared(shared);
      policy_.use_shared_counters(shared);
    }
    // By default one core is left to the group committer, the queue manager
    // and the worker pool: on 2 cores, two I/O threads contending with the
    // committer cost 7 % more CPU per message than one (send and relay).
    const unsigned cores = std::thread::hardware_concurrency();
    const unsigned n = cfg.threads ? cfg.threads : (cores > 1 ? cores - 1 : 1);
    for (unsigned i = 0; i < n; ++i) threads_.push_back(std::make_unique<io_thread>());
    settings_.resize(cfg.listeners.size());
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i)
      settings_[i] =
          std::make_shared<session_settings>(session_settings{cfg.hostname, cfg.limit, cfg.listeners[i], cfg.bounces});
  }

  // cpu_affinity: each I/O thread on a core of its own and the group
  // committer on the next, when the process may use enough cores; the worker
  // pool and the other threads go wherever the kernel puts them. On 2 cores,
  // the I/O thread and the committer then stop trading places (under send,
  // 2 to 6 % less CPU per message and 4 % more messages a second). Pins the
  // committer and returns the CPUs of the I/O threads, which pin themselves
  // as they start (none: everything floats).
  std::vector<int> place_committer() {
    if (!cfg_.cpu_affinity) return {};
    auto cpus = net::usable_cpus();
    if (cpus.size() < threads_.size() + 1) return {};
    if (!net::pin(committer_.thread_handle(), cpus[threads_.size()])) {
      log()->warn("cpu_affinity: the kernel refused to keep a thread on one CPU; the threads float");
      return {};
    }
    const int committer = cpus[threads_.size()];
    cpus.resize(threads_.size());
    log()->info("cpu_affinity: I/O threads on CPU {}, the group committer on CPU {}", fmt::join(cpus, ","), committer);
    return cpus;
  }

  int run() {
    sweep_orphans();
    bind_all();
    drop_privileges();
    register_metrics(cfg_, listener_labels_);
    queue::register_feedback_metrics();
    events_->on_stored([this] { dispatcher_.wake(); });
    net::spawn(threads_[0]->io.get_executor(), lead_webhooks(), "webhook role");
    if (!stores_.bodies->shared()) net::spawn(threads_[0]->io.get_executor(), sweep_orphans_now_and_then(), "spool sweep");
    if (cfg_.delivery.enabled) {
      queue::manager_settings ms;
      ms.hostname = cfg_.hostname;
      ms.max_queue_age = std::chrono::seconds(cfg_.delivery.max_queue_age_s);
      ms.delay_warning = std::chrono::seconds(cfg_.delivery.delay_warning_s);
      ms.lease = std::chrono::seconds(cfg_.delivery.lease_s);
      ms.window = cfg_.delivery.concurrency;
      ms.return_path_domain = cfg_.bounces.domain;
      ms.return_path_key = verp_key_;
      queue_ = std::make_unique<queue::queue_manager>(
          stores_, make_deliverer(pool_, cfg_), ms,
          queue::manager_services{&pool_, events_.get(), &base::real_clock(), &base::real_random(), &submit_,
                                  &reputation_});
      queue_->start();
      log()->info("delivery started: concurrency={} per_destination={}", cfg_.delivery.concurrency,
                  cfg_.delivery.per_destination);
    } else {
      // No queue manager to count the queue: count it here, so the gauge exists all the same.
      queue_gauge_ = queue::queue_size_gauge([this] { return static_cast<double>(queue_size_.load()); });
      net::spawn(threads_[0]->io.get_executor(), count_queue(), "queue size");
    }
    if (cfg_.admin_listen) {
      api_ = std::make_unique<admin::api>(cfg_, stores_, pool_, api_throttle_, started_);
      api_->settle_with([this] { committer_.settle(); });
      admin_ = std::make_unique<admin::http_server>(
          threads_[0]->io, admin::http_settings{*cfg_.admin_listen, cfg_.admin_tls ? &tls_ : nullptr, api_.get()});
      admin_->start();
    }
    connections_gauge_ = base::gauge_callback(base::metrics(), "smtpsd_connections_open", "Client connections open now",
                                              [this] { return static_cast<double>(active_.load()); });
    for (auto& t : threads_)
      for (std::size_t li = 0; li < t->acceptors.size(); ++li)
        net::asio::co_spawn(t->io, accept_loop(*t, li), net::asio::detached);

    net::asio::signal_set signals(threads_[0]->io, SIGINT, SIGTERM, SIGHUP);
    std::function<void()> wait_signal = [&] {
      signals.async_wait([&](const net::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          reload();
          wait_signal();
          return;
        }
        log()->info("signal {}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        begin_drain();
      });
    };
    wait_signal();

    const auto io_cpus = place_committer();
    for (std::size_t i = 0; i < threads_.size(); ++i) {
      const int cpu = io_cpus.empty() ? -1 : io_cpus[i];
      threads_[i]->thread = base::start_thread("smtpsd-io", [&io = threads_[i]->io, cpu] {
        if (cpu >= 0) net::pin(::pthread_self(), cpu);
        auto guard = net::asio::make_work_guard(io);
        io.run();
      });
    }
    sd_notify(0, "READY=1");
    log()->info("ready: {} I/O threads", threads_.size());
    for (auto& t : threads_) t->thread.join();
    if (queue_) queue_->stop(std::chrono::seconds(cfg_.limit.drain_timeout_s));
    try {
      reputation_.flush();  // ended deliveries counted since the last tick
    } catch (const std::exception& e) {
      log()->warn("reputation counts not saved: {}", e.what());
    }
    committer_.stop();
    events_->stop();  // the rejects still waiting go to the store
    events_->on_stored({});
    dispatcher_.stop();
    pool_.stop();
    log()->info("stopped");
    return 0;
  }

 private:
  void sweep_orphans() {
    stores_.bodies->open_for_writing();  // this process is the spool's one writer from here on
    if (auto n = submission::replay_lost_rows(stores_))
      log()->warn("queued again {} messages whose queue rows a crash or power cut lost (from the spool's replay data)", n);
    if (auto n = submission::remove_unqueued_bodies(stores_))
      log()->info("removed {} spool entries that were never queued", n);
  }

  // Bodies whose queue row went while the server ran (`queue remove` from the
  // CLI, which only reads the spool) are dropped every 5 minutes.
  net::awaitable<void> sweep_orphans_now_and_then() {
    int tick = 0;
    while (!draining_) {
      co_await net::sleep_for(std::chrono::seconds(2));
      if (++tick % 150 != 0 || draining_) continue;
      try {
        auto sweep = [this] {
          return submission::remove_unqueued_bodies(stores_, base::real_clock().now() - std::chrono::minutes(10));
        };
        if (auto n = co_await pool_.run(std::move(sweep))) log()->info("removed {} spool entries no longer queued", n);
      } catch (const std::exception& e) {
        log()->warn("cannot sweep the spool: {}", e.what());
      }
    }
  }

  // Started as root: the listeners are bound; run as `user` before any client
  // byte is read, or refuse unless allow_root says otherwise.
  void drop_privileges() {
    if (::geteuid() != 0) {
      if (!cfg_.user.empty()) log()->warn("user = \"{}\" ignored: not started as root", cfg_.user);
      return;
    }
    if (cfg_.user.empty()) {
      if (!cfg_.allow_root)
        throw std::runtime_error(cfg_.file.string() +
                                 ": refusing to serve client traffic as root; set user = \"…\" (or allow_root = true)");
      log()->warn("serving as root (allow_root = true)");
      return;
    }
    try {
      if (!net::hand_over_contents(cfg_.data_dir, cfg_.user))
        log()->warn("data_dir {} does not belong to {}: what root made in it stays root's", cfg_.data_dir.string(),
                    cfg_.user);
      net::switch_to_user(cfg_.user);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(cfg_.file.string() + ": " + e.what());
    }
    log()->info("running as user {} (uid {}, gid {})", cfg_.user, ::getuid(), ::getgid());
  }

  void bind_all() {
    for (std::size_t li = 0; li < cfg_.listeners.size(); ++li) {
      const auto& l = cfg_.listeners[li];
      std::uint16_t port = l.address.port;
      for (auto& t : threads_) {
        t->acceptors.push_back(net::bind_acceptor(t->io, l.address.host, port));
        port = t->acceptors.back().local_endpoint().port();  // port 0: the others join the first
      }
      const auto bound = net::to_string(threads_[0]->acceptors.back().local_endpoint());
      // The metrics label: the configured address, or the bound one when the port was left to the system.
      listener_labels_.push_back(l.address.port ? l.name() : bound);
      log()->info("listening on {} mode={} listener={}", bound, config::to_string(l.mode), l.name());
    }
  }

  net::awaitable<void> accept_loop(io_thread& t, std::size_t li) {
    auto& acceptor = t.acceptors[li];
    auto& connections = connections_metric(listener_labels_[li]);
    for (;;) {
      auto a = co_await net::accept(acceptor);
      if (draining_) co_return;
      if (a.ec) {
        if (a.ec == net::asio::error::operation_aborted) co_return;
        log()->warn("accept on {}: {}", cfg_.listeners[li].name(), a.ec.message());
        co_await net::sleep_for(std::chrono::milliseconds(50));  // EMFILE and the like
        continue;
      }
      connections.inc();
      auto s = std::make_shared<session>(std::move(a.socket), tls_.get(), settings_for(li),
                                         services{&pool_, &auth_, &policy_, &connections_, &submit_, events_.get(), &feedback_});
      t.sessions.insert(s);
      ++active_;
      net::asio::co_spawn(t.io, s->run(), [this, &t, s](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            log()->error("session={} crashed: {}", s->id(), x.what());
          }
        }
        t.sessions.erase(s);
        --active_;
      });
    }
  }

  // SIGHUP: certificates and the settings that can change live (limits,
  // access lists, AUTH throttling, routes). Anything that does not load is
  // refused with the reason and the old configuration stays in force; open
  // sessions keep what they started with.
  void reload() {
    std::shared_ptr<config::config> next;
    std::shared_ptr<net::server_tls> tls;
    try {
      next = std::make_shared<config::config>(config::load(cfg_.file));
      tls = net::server_tls::load(tls_options(*next));
    } catch (const std::exception& e) {
      log()->error("SIGHUP: reload refused, the old configuration stays in force: {}", e.what());
      return;
    }
    const auto& now = current();
    if (next->listeners.size() != now.listeners.size())
      log()->warn("SIGHUP: listeners were added or removed; that needs a restart");
    if (next->threads != now.threads || next->batch_scheduling != now.batch_scheduling ||
        next->cpu_affinity != now.cpu_affinity)
      log()->warn("SIGHUP: threads, scheduling and cpu_affinity are read at start; a change needs a restart");
    for (std::size_t i = 0; i < next->listeners.size() && i < now.listeners.size(); ++i)
      if (next->listeners[i].address.to_string() != now.listeners[i].address.to_string() ||
          next->listeners[i].mode != now.listeners[i].mode)
        log()->warn("SIGHUP: listener {} changed address or mode; that needs a restart", now.listeners[i].name());
    tls_.set(tls);
    {
      std::lock_guard l(settings_mu_);
      for (std::size_t i = 0; i < settings_.size() && i < next->listeners.size(); ++i) {
        auto listener = next->listeners[i];
        listener.address = now.listeners[i].address;  // the bound socket stays
        listener.mode = now.listeners[i].mode;
        settings_[i] =
            std::make_shared<session_settings>(session_settings{next->hostname, next->limit, listener, cfg_.bounces});
      }
      current_ = next;
    }
    policy_.set_defaults(policy::policy_defaults{next->limit.default_max_send_rate, next->limit.default_max_24h,
                                                 next->limit.max_message_bytes});
    connections_.set_limits(next->limit.max_connections, next->limit.max_connections_per_ip);
    throttle_.set_limits(next->auth.failures_before_throttle, std::chrono::seconds(next->auth.failure_window_s));
    api_throttle_.set_limits(next->auth.failures_before_throttle, std::chrono::seconds(next->auth.failure_window_s));
    if (queue_) queue_->replace_deliverer(make_deliverer(pool_, *next));
    log()->info("SIGHUP: reloaded certificates, limits, access lists, AUTH throttling and routes");
  }

  const config::config& current() {
    std::lock_guard l(settings_mu_);
    return current_ ? *current_ : cfg_;
  }

  std::shared_ptr<const session_settings> settings_for(std::size_t li) {
    std::lock_guard l(settings_mu_);
    return settings_[li];
  }

  // The webhooks run on the one node that holds the "webhooks" role in the
  // store (every node of an embedded store): taken at start, kept every
  // 10 s for 30 s, taken over by another node 30 s after this one stops.
  net::awaitable<void> lead_webhooks() {
    bool started = false;
    int tick = 0;
    while (!draining_) {
      if (tick++ % 5 == 0) {
        auto hold = [e = stores_.events] {
          const auto now = base::real_clock().now();
          return e->hold_role("webhooks", now, now + std::chrono::seconds(30));
        };
        bool held = false;
        try {
          held = co_await pool_.run(std::move(hold));
        } catch (const std::exception& e) {
          log()->warn("cannot take or keep the webhook role: {}", e.what());
        }
        if (held && !started) {
          started = true;
          dispatcher_.start();
        } else if (!held && started) {
          log()->warn("another node took the webhook role over: both may post events until this one stops");
        }
      }
      co_await net::sleep_for(std::chrono::seconds(2));
    }
  }

  net::awaitable<void> count_queue() {
    while (!draining_) {
      try {
        auto count = [q = stores_.queue] { return q->count(); };
        queue_size_ = co_await pool_.run(std::move(count));
      } catch (const std::exception&) {
      }
      co_await net::sleep_for(std::chrono::seconds(2));
    }
  }

  void begin_drain() {
    draining_ = true;
    if (admin_) net::asio::post(threads_[0]->io, [this] { admin_->stop(); });
    for (auto& t : threads_) {
      net::asio::post(t->io, [&t = *t] {
        net::error_code ec;
        for (auto& a : t.acceptors) a.close(ec);
        for (auto& s : t.sessions) s->request_stop();
      });
    }
    drain_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(cfg_.limit.drain_timeout_s);
    net::asio::co_spawn(threads_[0]->io, wait_drained(), net::asio::detached);
  }

  net::awaitable<void> wait_drained() {
    while (active_ > 0 && std::chrono::steady_clock::now() < drain_deadline_)
      co_await net::sleep_for(std::chrono::milliseconds(20));
    if (active_ > 0) log()->warn("drain timeout: closing {} sessions", active_.load());
    for (auto& t : threads_) t->io.stop();
  }

  const config::config& cfg_;
  store::stores stores_;
  net::worker_pool pool_;
  submission::group_committer committer_;
  policy::auth_throttle throttle_;
  policy::auth_throttle api_throttle_;  // failed API token checks, per client address
  policy::authenticator auth_;
  policy::submission_policy policy_;
  policy::connection_limits connections_;
  std::unique_ptr<events::publisher> events_;
  events::dispatcher dispatcher_;
  std::shared_ptr<dkim::keystore> dkim_;
  submission::submitter submit_;
  policy::reputation_monitor reputation_;
  std::string verp_key_;
  queue::feedback feedback_;
  std::unique_ptr<queue::queue_manager> queue_;
  net::server_tls_holder tls_;
  std::vector<std::unique_ptr<io_thread>> threads_;
  std::unique_ptr<admin::api> api_;
  std::unique_ptr<admin::http_server> admin_;
  base::time_point started_ = base::real_clock().now();
  std::mutex settings_mu_;
  std::vector<std::shared_ptr<const session_settings>> settings_;
  std::shared_ptr<config::config> current_;  // after a reload
  std::atomic<bool> draining_{false};
  std::atomic<int> active_{0};
  std::atomic<std::size_t> queue_size_{0};  // with delivery off
  base::gauge_callback queue_gauge_;        // reads queue_size_, with delivery off
  base::gauge_callback connections_gauge_;  // reads active_
  std::vector<std::string> listener_labels_;
  std::chrono::steady_clock::time_point drain_deadline_;
};

}  // namespace

int serve(const config::config& cfg, store::stores stores) {
  if (cfg.batch_scheduling) {  // before the server's threads start: they inherit it
    try {
      log()->debug("scheduling: SCHED_BATCH for {} threads", net::use_batch_scheduling());
    } catch (const std::system_error& e) {
      log()->warn("scheduling = \"batch\": {}; the threads keep the normal policy", e.what());
    }
  }
  server s(cfg, std::move(stores));
  return s.run();
}

}  // namespace smtpsd::server
