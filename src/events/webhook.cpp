#include "events/webhook.hpp"

#include <fmt/format.h>

#include "events/log.hpp"
#include "base/metrics.hpp"
#include "base/time_format.hpp"
#include "events/event.hpp"
#include "events/ses.hpp"
#include "events/signature.hpp"
#include "net/coro.hpp"
#include "net/tls.hpp"

namespace smtpsd::events {

namespace {

constexpr std::size_t window_size = 256;
constexpr auto cursor_save_interval = std::chrono::milliseconds(500);
constexpr auto redelivery_check_interval = std::chrono::seconds(2);
constexpr auto idle_wait = std::chrono::seconds(1);

base::counter& requests(const char* result) {
  return base::metrics().get_counter("smtpsd_webhook_requests_total", "Webhook requests, by result",
                                     {{"result", result}});
}

std::shared_ptr<net::ssl::context> tls_for(const webhook_settings& s) {
  net::client_tls_options o;
  o.ca_file = s.ca_file;
  return net::make_client_context(o);
}

net::http_client::options client_options(const webhook_settings& s) {
  net::http_client::options o;
  o.timeout = s.timeout;
  o.max_idle = s.max_in_flight;
  return o;
}

}  // namespace

answer judge(int status) {
  if (status >= 200 && status < 300) return answer::delivered;
  if (status >= 400 && status < 500 && status != 408 && status != 429) return answer::dead;
  return answer::retry;  // 5xx, 408, 429, other codes, no answer at all
}

std::chrono::seconds backoff(unsigned failures, std::chrono::seconds cap) {
  if (failures == 0) return std::chrono::seconds(0);
  const auto shift = std::min(failures - 1, 20u);
  return std::min(cap, std::chrono::seconds(std::int64_t{1} << shift));
}

webhook::webhook(net::asio::any_io_executor ex, webhook_settings s, log_reader& log,
                 std::shared_ptr<store::event_store> store, std::shared_ptr<const recent_events> recent,
                 net::worker_pool& pool, const base::clock& clock, std::string hostname)
    : s_(std::move(s)),
      log_(log),
      store_(std::move(store)),
      recent_(std::move(recent)),
      pool_(pool),
      clock_(clock),
      hostname_(std::move(hostname)),
      ex_(ex),
      client_(ex, *net::parse_http_url(s_.url), tls_for(s_), client_options(s_)),
      timer_(ex) {}

webhook::~webhook() = default;

void webhook::wake() {
  woken_ = true;
  timer_.cancel();
}

void webhook::stop() {
  stopping_ = true;
  wake();
}

bool webhook::wanted(const store::stored_event& e) const {
  if (!s_.types.empty() && !s_.types.count(e.type)) return false;
  if (s_.fmt == webhook_settings::format::ses && e.type == "reputation") return false;  // SES has no such record
  if (!s_.accounts.empty() && !s_.accounts.count(e.account)) return false;
  return s_.configuration_set.empty() || e.configuration_set == s_.configuration_set;
}

std::string webhook::body_of(const store::stored_event& row) const {
  auto render = [&](const event& e) {
    return s_.fmt == webhook_settings::format::ses ? to_ses_json(e, hostname_) : to_json(e);
  };
  if (recent_)
    if (auto e = recent_->find(row.id)) return render(*e);
  return render(from_record(row.record));
}

net::awaitable<void> webhook::run() {
  co_await start_cursor();
  while (!stopping_) {
    woken_ = false;
    try {
      load();
      co_await load_redeliveries();
    } catch (const std::exception& e) {
      log()->error("webhook {}: cannot read the event log: {}", s_.name, e.what());
    }
    launch();
    co_await save_cursor(false);
    if (woken_ || stopping_) continue;
    timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(next_wake() - clock_.now()));
    const auto ec = co_await net::wait(timer_);
    (void)ec;
  }
  co_await save_cursor(true);
}

// A webhook seen for the first time starts at the end of the log: it gets
// what happens from now on, not the history.
net::awaitable<void> webhook::start_cursor() {
  auto find = [store = store_, name = s_.name] {
    auto c = store->cursor(name);
    if (c) return *c;
    const auto last = store->last_seq();
    store->set_cursor(name, last);
    return last;
  };
  try {
    cursor_ = co_await pool_.run(std::move(find));
  } catch (const std::exception& e) {
    log()->error("webhook {}: cannot read its cursor, starting at the beginning of the log: {}", s_.name, e.what());
  }
  saved_cursor_ = read_up_to_ = cursor_;
  log()->info("webhook {}: {} from event {}", s_.name, s_.url, cursor_);
}

// Drops what is done from the front of the window (moving the cursor), and
// reads more of the log when the window has room.
void webhook::load() {
  while (!window_.empty() && window_.front()->done) {
    cursor_ = window_.front()->row->seq;
    window_.pop_front();
  }
  if (window_.empty()) cursor_ = read_up_to_;
  std::int64_t last = read_up_to_;
  if (window_.size() < window_size) {
    const auto want = window_size - window_.size();
    auto rows = log_.after(read_up_to_, want);
    for (auto& r : rows) {
      read_up_to_ = r->seq;
      if (!wanted(*r)) continue;
      auto e = std::make_shared<entry>();
      e->body = body_of(*r);
      e->row = std::move(r);
      window_.push_back(std::move(e));
    }
    if (window_.empty()) cursor_ = read_up_to_;
    last = rows.size() == want ? log_.last_seq() : read_up_to_;
  }
  std::int64_t pending = 0;
  for (auto& e : window_) pending += !e->done;
  backlog_ = pending + std::max<std::int64_t>(0, last - read_up_to_);
}

net::awaitable<void> webhook::load_redeliveries() {
  const auto now = clock_.now();
  if (now - redeliveries_checked_ < redelivery_check_interval || !redelivery_.empty()) co_return;
  redeliveries_checked_ = now;
  auto read = [store = store_, name = s_.name] { return store->dead_letters(name); };
  auto dead = co_await pool_.run(std::move(read));
  for (auto& d : dead) {
    if (!d.redeliver) continue;
    auto e = std::make_shared<entry>();
    e->body = body_of(d.event);
    e->row = std::make_shared<const store::stored_event>(std::move(d.event));
    e->redelivery = true;
    redelivery_.push_back(std::move(e));
  }
  if (!redelivery_.empty()) log()->info("webhook {}: redelivering {} dead letters", s_.name, redelivery_.size());
}

// Starts as many batches as the limits allow: max_in_flight of up to
// `pipeline` requests normally, one request at a time while the receiver
// fails, none before a pause is over. While a batch is out, another starts
// only when it is full: what arrives meanwhile goes with the next one.
void webhook::launch() {
  const auto now = clock_.now();
  if (failing_ > 0 && now < paused_until_) return;
  const unsigned limit = failing_ > 0 ? 1 : std::max(1u, s_.max_in_flight);
  const std::size_t depth = failing_ > 0 ? 1 : std::max(1u, s_.pipeline);
  std::vector<entry_ptr> ready;
  for (auto* list : {&redelivery_, &window_})
    for (auto& e : *list)
      if (!e->done && !e->in_flight && e->not_before <= now) ready.push_back(e);
  for (std::size_t i = 0; i < ready.size() && in_flight_ < limit;) {
    const auto n = std::min(depth, ready.size() - i);
    if (in_flight_ > 0 && n < depth) break;
    std::vector<entry_ptr> batch(ready.begin() + static_cast<std::ptrdiff_t>(i),
                                 ready.begin() + static_cast<std::ptrdiff_t>(i + n));
    for (auto& e : batch) e->in_flight = true;
    ++in_flight_;
    net::spawn(ex_, send(std::move(batch)), "webhook requests");
    i += n;
  }
  std::erase_if(redelivery_, [](const entry_ptr& e) { return e->done; });
}

net::awaitable<void> webhook::send(std::vector<entry_ptr> batch) {
  const auto t = base::unix_seconds(clock_.now());
  std::vector<net::http_post> posts;
  posts.reserve(batch.size());
  for (auto& e : batch)
    posts.push_back({e->body,
                     {{"Content-Type", "application/json"},
                      {"Smtpsd-Signature", signature_header(s_.secret, t, e->body)},
                      {"Smtpsd-Event-Id", e->row->id},
                      {"Smtpsd-Event-Type", e->row->type}}});
  auto results = co_await client_.post_pipelined(posts);
  bool failed = false, delivered = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto verdict = co_await settle(*batch[i], results[i]);
    failed = failed || verdict == answer::retry;
    delivered = delivered || verdict == answer::delivered;
  }
  // One failing batch is one step of the pause, however many requests it had.
  if (failed) {
    ++failing_;
    paused_until_ = clock_.now() + backoff(failing_, s_.max_backoff);
  } else if (delivered) {
    failing_ = 0;
  }
  --in_flight_;
  wake();
}

// What an answer means for its event: done, dead-lettered, or due again
// after its back-off (answer::retry).
net::awaitable<answer> webhook::settle(entry& e, const net::http_result& r) {
  static auto& latency = base::metrics().get_histogram(
      "smtpsd_webhook_delivery_seconds", "From an event to its webhook's 2xx answer", base::latency_buckets());
  ++e.attempts;
  auto verdict = r.status ? judge(r.status) : answer::retry;
  const auto now = clock_.now();
  const auto why = r.status ? fmt::format("HTTP {}", r.status) : r.error;
  if (verdict == answer::delivered) {
    requests("success").inc();
    latency.observe(std::chrono::duration<double>(now - e.row->time).count());
    e.done = true;
    if (e.redelivery) {
      auto forget = [store = store_, name = s_.name, seq = e.row->seq] { store->remove_dead_letter(name, seq); };
      co_await pool_.run(std::move(forget));
    }
  } else {
    requests(r.status == 0 ? "network_error" : r.status >= 500 ? "server_error" : "client_error").inc();
    if (verdict == answer::dead || e.redelivery || now - e.row->time > s_.max_age) {
      std::string reason = why;
      if (verdict != answer::dead) reason += fmt::format(" (after {} attempts)", e.attempts);
      co_await dead_letter(e, reason);
      verdict = answer::dead;
    } else {
      e.not_before = now + backoff(e.attempts, s_.max_backoff);
      log()->warn("webhook {}: event {} not taken ({}); attempt {} again in {}s", s_.name, e.row->id, why,
                  e.attempts + 1, backoff(e.attempts, s_.max_backoff).count());
    }
  }
  e.in_flight = false;
  co_return verdict;
}

net::awaitable<void> webhook::dead_letter(entry& e, const std::string& reason) {
  static auto& dead = base::metrics().get_counter("smtpsd_webhook_dead_letters_total",
                                                  "Events a webhook gave up on, kept as dead letters");
  log()->warn("webhook {}: event {} ({}) dead-lettered: {}", s_.name, e.row->id, e.row->type, reason);
  auto keep = [store = store_, name = s_.name, seq = e.row->seq, reason, now = clock_.now()] {
    store->add_dead_letter(name, seq, reason, now);
  };
  try {
    co_await pool_.run(std::move(keep));
    dead.inc();
    e.done = true;
  } catch (const std::exception& x) {
    log()->error("webhook {}: cannot keep dead letter {}: {}; trying again later", s_.name, e.row->id, x.what());
    e.not_before = clock_.now() + std::chrono::seconds(5);
  }
}

net::awaitable<void> webhook::save_cursor(bool force) {
  const auto now = clock_.now();
  if (cursor_ == saved_cursor_ || (!force && now - saved_at_ < cursor_save_interval)) co_return;
  auto save = [store = store_, name = s_.name, seq = cursor_] { store->set_cursor(name, seq); };
  try {
    co_await pool_.run(std::move(save));
    saved_cursor_ = cursor_;
    saved_at_ = now;
  } catch (const std::exception& e) {
    log()->error("webhook {}: cannot save its cursor: {}", s_.name, e.what());
  }
}

// The next moment something may be due: a retry, the end of a pause, a
// cursor to save, redeliveries to look for, or a second from now.
base::time_point webhook::next_wake() const {
  const auto now = clock_.now();
  auto at = now + idle_wait;
  for (auto& e : window_)
    if (!e->done && !e->in_flight && e->not_before > now) at = std::min(at, e->not_before);
  if (failing_ > 0 && paused_until_ > now) at = std::min(at, paused_until_);
  if (cursor_ != saved_cursor_) at = std::min(at, saved_at_ + std::chrono::duration_cast<base::time_point::duration>(
                                                                  cursor_save_interval));
  return std::max(at, now + std::chrono::milliseconds(1));
}

}  // namespace smtpsd::events
