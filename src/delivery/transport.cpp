#include "delivery/transport.hpp"

#include <fmt/format.h>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "message/dsn.hpp"
#include "smtp/address.hpp"
#include "net/tls.hpp"

namespace smtpsd::delivery {

namespace {

std::shared_ptr<spdlog::logger> log() {
  static auto l = base::logger("delivery");
  return l;
}

outcome from_reply(const response& r, const std::string& mta) {
  outcome o;
  o.response = r.summary();
  o.remote_mta = mta;
  o.remote = !r.io_error;
  o.status = message::status_of(r.reply.code, r.reply.enhanced);
  if (r.io_error || r.reply.transient())
    o.kind = outcome_kind::deferred;
  else if (r.reply.positive())
    o.kind = outcome_kind::delivered;
  else
    o.kind = outcome_kind::failed;
  if (r.io_error) o.status = "4.4.2";
  return o;
}

outcome local(outcome_kind k, std::string status, std::string text, std::string mta = {}) {
  outcome o;
  o.kind = k;
  const int code = k == outcome_kind::failed ? 550 : 451;
  o.response = fmt::format("{} {} {}", code, status, text);
  o.status = std::move(status);
  o.remote_mta = std::move(mta);
  return o;
}

// Our spool failed mid-message: drop the connection so the remote never
// takes half a message; the recipients are deferred.
response abandon(smtp_client& c, const job& j, const std::string& why) {
  log()->error("queue_id={} cannot read the message body: {}", j.queue_id, why);
  c.stream().close_now();
  return response{smtp::make_reply(451, "4.3.0", "local error reading the message: " + why), true};
}

// RSET after a failed transaction; true when the connection can be reused.
net::awaitable<bool> reset(smtp_client& c) {
  if (c.broken()) co_return false;
  auto r = co_await c.command("RSET");
  co_return r.ok();
}

}  // namespace

std::string_view to_string(outcome_kind k) {
  switch (k) {
    case outcome_kind::delivered: return "delivered";
    case outcome_kind::deferred: return "deferred";
    case outcome_kind::failed: return "failed";
  }
  return "?";
}

// Holds one of a next hop's connection slots for as long as it lives.
class transport::permit {
 public:
  permit(transport& t, std::string key) : t_(t), key_(std::move(key)) {}
  ~permit() { t_.release(key_); }

 private:
  transport& t_;
  std::string key_;
};

transport::transport(net::worker_pool& pool, transport_settings s)
    : pool_(pool), s_(std::move(s)), resolver_(s_.resolvers) {
  // Route keys in the form route() looks them up in: A-labels (a route may
  // name bücher.example or xn--bcher-kva.example).
  std::map<std::string, base::host_port> routes;
  for (auto& [domain, to] : s_.routes) routes[smtp::ascii_domain(domain).value_or(domain)] = to;
  s_.routes = std::move(routes);
  net::client_tls_options opportunistic;
  opportunistic.verify = false;
  opportunistic_tls_ = net::make_client_context(opportunistic);
  if (s_.relay) {
    net::client_tls_options relay;
    relay.ca_file = s_.relay->ca_file;
    relay_tls_ = net::make_client_context(relay);
  }
}

transport::~transport() = default;

transport::next_hop transport::route(const std::string& domain) const {
  if (s_.relay) return {"smarthost", false, s_.relay->address.host, s_.relay->address.port, true};
  // DNS knows an internationalised domain by its A-labels (RFC 5890).
  const auto dns_name = smtp::ascii_domain(domain).value_or(base::to_lower(domain));
  auto it = s_.routes.find(dns_name);
  if (it == s_.routes.end()) it = s_.routes.find("*");
  if (it != s_.routes.end())
    return {"route:" + it->second.to_string(), false, it->second.host, it->second.port, false};
  // An address literal names the host itself: no MX lookup (RFC 5321 §5.1).
  if (auto ip = smtp::literal_address(domain)) return {"literal:" + *ip, false, *ip, s_.mx_port, false};
  return {"mx:" + dns_name, true, dns_name, s_.mx_port, false};
}

net::awaitable<bool> transport::acquire(const std::string& key) {
  if (stopping_) co_return false;
  auto& g = gates_[key];
  if (g.active < std::max(1u, s_.per_destination)) {
    ++g.active;
    co_return true;
  }
  auto t = std::make_shared<net::asio::steady_timer>(co_await net::asio::this_coro::executor,
                                                     net::asio::steady_timer::time_point::max());
  g.waiters.push_back(t);
  co_await t->async_wait(net::as_tuple_awaitable);  // cancelled by release() (the slot is ours) or shutdown()
  co_return !stopping_;
}

void transport::shutdown() {
  stopping_ = true;
  for (auto& [key, g] : gates_) {
    for (auto& t : g.waiters) t->cancel();
    g.waiters.clear();
  }
}

void transport::release(const std::string& key) {
  auto& g = gates_[key];
  if (stopping_ && g.waiters.empty()) {
    if (g.active > 0) --g.active;
    return;
  }
  if (!g.waiters.empty()) {
    auto t = std::move(g.waiters.front());
    g.waiters.pop_front();
    t->cancel();  // hands the slot over; active stays the same
  } else if (g.active > 0) {
    --g.active;
  }
}

net::awaitable<resolution> transport::resolve(const next_hop& hop) {
  const auto now = std::chrono::steady_clock::now();
  if (auto it = dns_cache_.find(hop.key); it != dns_cache_.end() && it->second.until > now) co_return it->second.r;
  // Lambdas with non-trivial captures are named before co_await: GCC 12
  // destroys such temporaries twice.
  auto lookup = [this, hop] { return hop.mx ? resolver_.mx(hop.name, hop.port) : resolver_.host(hop.name, hop.port); };
  auto r = co_await pool_.run(std::move(lookup));
  // Answers are kept for a minute, failures for a few seconds.
  dns_cache_[hop.key] = {r, now + (r.ok() ? std::chrono::seconds(60) : std::chrono::seconds(5))};
  if (dns_cache_.size() > 10000) dns_cache_.clear();
  co_return r;
}

net::awaitable<std::unique_ptr<smtp_client>> transport::open_one(const next_hop& hop, const mx_host& host,
                                                                std::string& why, std::optional<outcome>& stop) {
  auto note = [&](const std::string& what) {
    if (!why.empty()) why += "; ";
    why += what;
  };
  auto connected = co_await smtp_client::connect(host.addresses, s_.limits.connect, host.name);
  auto c = std::move(connected.first);
  if (!c) {
    note(host.name + ": " + connected.second);
    co_return nullptr;
  }
  c->set_timeouts(s_.limits);
  const bool implicit = hop.smarthost && s_.relay->implicit_tls;
  if (implicit) {
    if (auto e = co_await c->handshake(*relay_tls_, host.name, true); !e.empty()) {
      note(host.name + ": " + e);
      co_return nullptr;
    }
  }
  auto banner = co_await c->read_reply();
  if (!banner.ok()) {
    note(host.name + ": greeting " + banner.summary());
    co_await c->quit();
    co_return nullptr;
  }
  auto hello = co_await c->hello(s_.hostname);
  if (!hello.ok()) {
    note(host.name + ": EHLO " + hello.summary());
    co_await c->quit();
    co_return nullptr;
  }
  if (!implicit && c->capabilities().starttls) {
    auto& ctx = hop.smarthost ? *relay_tls_ : *opportunistic_tls_;
    auto r = co_await c->starttls(ctx, host.name, hop.smarthost);
    if (!r.ok()) {
      // Offered and failed: no fallback to plaintext on this host.
      note(host.name + ": STARTTLS " + r.summary());
      co_await c->quit();
      co_return nullptr;
    }
    hello = co_await c->hello(s_.hostname);
    if (!hello.ok()) {
      note(host.name + ": EHLO after STARTTLS " + hello.summary());
      co_await c->quit();
      co_return nullptr;
    }
  }
  if (hop.smarthost && !s_.relay->username.empty()) {
    if (!c->stream().tls_active()) {
      stop = local(outcome_kind::deferred, "4.7.10",
                   "smarthost " + host.name + " offers no TLS; credentials are never sent in the clear", host.name);
      co_await c->quit();
      co_return nullptr;
    }
    auto r = co_await c->auth(s_.relay->username, s_.relay->password);
    if (!r.ok()) {
      stop = local(outcome_kind::deferred, "4.7.8", "smarthost refused AUTH: " + r.summary(), host.name);
      co_await c->quit();
      co_return nullptr;
    }
  }
  co_return std::move(c);
}

net::awaitable<std::pair<std::unique_ptr<smtp_client>, outcome>> transport::open(const next_hop& hop,
                                                                                 const resolution& where) {
  std::string why;
  std::optional<outcome> stop;
  for (const auto& host : where.hosts) {
    auto c = co_await open_one(hop, host, why, stop);
    if (c) co_return std::pair{std::move(c), outcome{}};
    if (stop) co_return std::pair{nullptr, *stop};
  }
  if (why.size() > 900) why.resize(900);
  co_return std::pair{nullptr, local(outcome_kind::deferred, "4.4.1", "no mail host answered: " + why)};
}

net::awaitable<std::vector<outcome>> transport::deliver(const job& j, const std::string& domain) {
  const auto hop = route(domain);
  if (!co_await acquire(hop.key)) {
    outcome o = local(outcome_kind::deferred, "4.3.2", "not attempted: smtpsd is stopping");
    o.attempted = false;
    co_return std::vector<outcome>(j.rcpts.size(), o);
  }
  permit held(*this, hop.key);

  // An idle connection first; if it turns out dead before any recipient
  // was accepted, a fresh one.
  auto& idle = idle_[hop.key];
  while (!idle.empty()) {
    auto conn = std::move(idle.back().client);
    const auto since = idle.back().since;
    idle.pop_back();
    if (std::chrono::steady_clock::now() - since > s_.idle) {
      conn->stream().close_now();
      continue;
    }
    bool reusable = false, stale = false;
    auto out = co_await transaction(*conn, j, reusable, stale);
    if (reusable) idle_[hop.key].push_back({std::move(conn), std::chrono::steady_clock::now()});
    if (!stale) co_return out;
    break;
  }

  auto where = co_await resolve(hop);
  if (!where.ok()) {
    auto o = local(where.permanent ? outcome_kind::failed : outcome_kind::deferred, where.status, where.error);
    co_return std::vector<outcome>(j.rcpts.size(), o);
  }
  auto opened = co_await open(hop, where);
  auto conn = std::move(opened.first);
  if (!conn) co_return std::vector<outcome>(j.rcpts.size(), opened.second);
  bool reusable = false, stale = false;
  auto out = co_await transaction(*conn, j, reusable, stale);
  if (reusable && idle_[hop.key].size() < s_.per_destination)
    idle_[hop.key].push_back({std::move(conn), std::chrono::steady_clock::now()});
  else
    co_await conn->quit();
  co_return out;
}

net::awaitable<std::vector<outcome>> transport::transaction(smtp_client& c, const job& j, bool& reusable, bool& stale) {
  reusable = false;
  stale = false;
  const auto& caps = c.capabilities();
  const auto mta = c.remote_name();
  const auto n = j.rcpts.size();
  if (j.smtputf8 && !caps.smtputf8) {
    reusable = true;
    co_return std::vector<outcome>(
        n, local(outcome_kind::failed, "5.6.7", "the message needs SMTPUTF8 and " + mta + " does not support it", mta));
  }
  if (caps.size && *caps.size > 0 && j.size > *caps.size) {
    reusable = true;
    co_return std::vector<outcome>(
        n, local(outcome_kind::failed, "5.3.4", fmt::format("message of {} octets exceeds {}'s limit of {}", j.size, mta, *caps.size), mta));
  }

  smtp::mail_options mo{j.size, j.eightbit, j.smtputf8, j.ret, j.envid};
  std::vector<std::string> lines{smtp::format_mail(j.from, mo, caps)};
  for (auto& r : j.rcpts) lines.push_back(smtp::format_rcpt(r.address, r.notify, r.orcpt, caps));
  const bool bdat = caps.chunking;
  if (!bdat) lines.push_back("DATA");

  // The envelope: pipelined when offered, else one command at a time.
  std::vector<response> replies;
  if (caps.pipelining) {
    std::string wire;
    for (auto& l : lines) {
      if (c.trace) c.trace('>', l);
      wire += l;
      wire += "\r\n";
    }
    if (!co_await c.send(wire)) {
      stale = true;
      co_return std::vector<outcome>(n, from_reply(response{smtp::make_reply(421, "4.4.2", "connection lost"), true}, mta));
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
      response r = co_await c.read_reply();
      replies.push_back(std::move(r));
      if (replies.back().io_error) break;
    }
  } else {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      response r = co_await c.command(lines[i]);
      replies.push_back(std::move(r));
      if (replies.back().io_error || (i == 0 && !replies.back().ok())) break;
    }
  }
  std::vector<outcome> out(n);
  const response& mail = replies[0];
  stale = mail.io_error;  // nothing was accepted: safe to try again on a fresh connection
  if (!mail.ok()) {
    for (auto& o : out) o = from_reply(mail, mta);
    if (!mail.io_error && !c.broken()) {
      if (caps.pipelining && replies.size() == lines.size() && !bdat && replies.back().reply.code == 354) {
        co_await c.send(".\r\n");
        response ignored = co_await c.read_reply();
        (void)ignored;
      }
      reusable = co_await reset(c);
    }
    co_return out;
  }
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i + 1 >= replies.size()) {
      out[i] = from_reply(response{smtp::make_reply(421, "4.4.2", "connection lost"), true}, mta);
      continue;
    }
    const auto& r = replies[i + 1];
    if (r.ok()) {
      ++accepted;
      out[i].kind = outcome_kind::delivered;  // provisional: the data reply decides
    } else {
      out[i] = from_reply(r, mta);
    }
  }
  auto settle = [&](const response& final) {
    for (auto& o : out)
      if (o.kind == outcome_kind::delivered) o = from_reply(final, mta);
  };
  if (c.broken()) {
    settle(response{smtp::make_reply(421, "4.4.2", "connection to " + mta + " lost"), true});
    co_return out;
  }

  if (!bdat) {
    // (No co_await inside ?: or && anywhere here: GCC 12 miscompiles it.)
    response data;
    if (replies.size() == lines.size())
      data = replies.back();
    else
      data = co_await c.command("DATA");
    if (accepted == 0) {
      if (data.reply.code == 354) {  // RFC 2920 §3.1: end the data at once
        co_await c.send(".\r\n");
        response ignored = co_await c.read_reply();
        (void)ignored;
      }
      reusable = co_await reset(c);
      co_return out;
    }
    if (data.reply.code != 354) {
      settle(data);
      reusable = co_await reset(c);
      co_return out;
    }
    auto src = j.open();
    smtp::dot_stuffer stuffer;
    std::string wire;
    std::string read_error;
    try {
      for (;;) {
        auto chunk = co_await src->next();
        if (chunk.empty()) break;
        wire.clear();
        stuffer.encode(chunk, wire);
        if (!co_await c.send(wire, s_.limits.data)) break;
      }
    } catch (const std::exception& e) {
      read_error = e.what();
    }
    if (!read_error.empty()) {
      settle(abandon(c, j, read_error));
      co_return out;
    }
    wire.clear();
    stuffer.finish(wire);
    if (c.trace) c.trace('>', "<message> .");
    response final;
    if (co_await c.send(wire, s_.limits.data))
      final = co_await c.read_reply(s_.limits.data);
    else
      final = response{smtp::make_reply(421, "4.4.2", "connection to " + mta + " lost during the data"), true};
    settle(final);
    reusable = !c.broken() && final.reply.code != 421;
    co_return out;
  }

  // BDAT: the content in chunks, the last one marked LAST.
  if (accepted == 0) {
    reusable = co_await reset(c);
    co_return out;
  }
  auto src = j.open();
  response final;
  std::string read_error;
  try {
    std::string cur = co_await src->next();
    for (;;) {
      std::string next;
      if (!cur.empty()) next = co_await src->next();
      const bool last = next.empty();
      auto head = fmt::format("BDAT {}{}", cur.size(), last ? " LAST" : "");
      if (c.trace) c.trace('>', head);
      head += "\r\n";
      head += cur;
      if (!co_await c.send(head, s_.limits.data)) {
        final = response{smtp::make_reply(421, "4.4.2", "connection to " + mta + " lost during the data"), true};
        break;
      }
      final = co_await c.read_reply(s_.limits.data);
      if (!final.ok() || last) break;
      cur = std::move(next);
    }
  } catch (const std::exception& e) {
    read_error = e.what();
  }
  if (!read_error.empty()) {
    settle(abandon(c, j, read_error));
    co_return out;
  }
  settle(final);
  reusable = !c.broken() && final.ok();
  co_return out;
}

void transport::reap(bool all) {
  // Idle connections are closed without a QUIT round trip: nothing is in
  // progress on them, and the remote times them out the same way.
  const auto now = std::chrono::steady_clock::now();
  for (auto& [key, list] : idle_) {
    std::erase_if(list, [&](idle_connection& c) {
      if (!all && now - c.since <= s_.idle) return false;
      c.client->stream().close_now();
      return true;
    });
  }
}

}  // namespace smtpsd::delivery
