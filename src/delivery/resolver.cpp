#include "delivery/resolver.hpp"

#include <ares.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <poll.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>

#include "base/strings.hpp"

namespace smtpsd::delivery {

namespace {

// One c-ares channel per lookup: cheap next to the network round trip, and
// no state shared between worker threads.
class channel {
 public:
  channel(const std::string& servers, std::chrono::milliseconds timeout, int tries) {
    static std::once_flag once;
    std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
    ares_options o{};
    o.timeout = static_cast<int>(timeout.count());
    o.tries = tries;
    o.flags = ARES_FLAG_NOSEARCH;
    if (int rc = ares_init_options(&ch_, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS); rc != ARES_SUCCESS)
      throw std::runtime_error(std::string("c-ares: ") + ares_strerror(rc));
    if (!servers.empty()) {
      if (int rc = ares_set_servers_ports_csv(ch_, servers.c_str()); rc != ARES_SUCCESS) {
        ares_destroy(ch_);
        throw std::runtime_error(std::string("c-ares: resolvers: ") + ares_strerror(rc));
      }
    }
    deadline_ = std::chrono::steady_clock::now() + timeout * (tries + 1) + std::chrono::seconds(1);
  }
  ~channel() { ares_destroy(ch_); }
  ares_channel get() { return ch_; }

  // Runs the channel until `pending` reaches zero or the deadline passes.
  void run(const int& pending) {
    while (pending > 0) {
      if (std::chrono::steady_clock::now() > deadline_) {
        ares_cancel(ch_);
        return;
      }
      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      const int bits = ares_getsock(ch_, socks, ARES_GETSOCK_MAXNUM);
      std::vector<pollfd> fds;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short ev = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) ev |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) ev |= POLLOUT;
        if (ev) fds.push_back({socks[i], ev, 0});
      }
      timeval max{0, 200000}, tv{};
      auto* t = ares_timeout(ch_, &max, &tv);
      const int ms = static_cast<int>(t->tv_sec * 1000 + t->tv_usec / 1000);
      const int n = ::poll(fds.data(), fds.size(), std::max(ms, 1));
      if (n <= 0) {
        ares_process_fd(ch_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
        continue;
      }
      for (auto& p : fds) {
        ares_process_fd(ch_, (p.revents & (POLLIN | POLLERR | POLLHUP)) ? p.fd : ARES_SOCKET_BAD,
                        (p.revents & POLLOUT) ? p.fd : ARES_SOCKET_BAD);
      }
    }
  }

 private:
  ares_channel ch_ = nullptr;
  std::chrono::steady_clock::time_point deadline_;
};

struct mx_query {
  int pending = 1;
  int status = ARES_SUCCESS;
  std::vector<std::pair<unsigned, std::string>> records;
};

void on_mx(void* arg, int status, int, unsigned char* abuf, int alen) {
  auto* q = static_cast<mx_query*>(arg);
  q->status = status;
  if (status == ARES_SUCCESS) {
    ares_mx_reply* head = nullptr;
    q->status = ares_parse_mx_reply(abuf, alen, &head);
    for (auto* r = head; r; r = r->next) q->records.emplace_back(r->priority, r->host ? r->host : "");
    if (head) ares_free_data(head);
  }
  --q->pending;
}

struct addr_query {
  int* pending = nullptr;
  std::uint16_t port = 0;
  int status = ARES_SUCCESS;
  std::vector<net::tcp::endpoint> endpoints;
};

void on_addr(void* arg, int status, int, ares_addrinfo* res) {
  auto* q = static_cast<addr_query*>(arg);
  q->status = status;
  if (status == ARES_SUCCESS && res) {
    for (auto* n = res->nodes; n; n = n->ai_next) {
      if (n->ai_family == AF_INET6) {
        auto* a = reinterpret_cast<const sockaddr_in6*>(n->ai_addr);
        net::asio::ip::address_v6::bytes_type b;
        std::copy_n(a->sin6_addr.s6_addr, 16, b.begin());
        net::tcp::endpoint e(net::asio::ip::address_v6(b), q->port);
        if (std::find(q->endpoints.begin(), q->endpoints.end(), e) == q->endpoints.end()) q->endpoints.push_back(e);
      } else if (n->ai_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(n->ai_addr);
        net::tcp::endpoint e(net::asio::ip::address_v4(ntohl(a->sin_addr.s_addr)), q->port);
        if (std::find(q->endpoints.begin(), q->endpoints.end(), e) == q->endpoints.end()) q->endpoints.push_back(e);
      }
    }
  }
  if (res) ares_freeaddrinfo(res);
  --*q->pending;
}

resolution failure(std::string status, std::string error, bool permanent) {
  resolution r;
  r.status = std::move(status);
  r.error = std::move(error);
  r.permanent = permanent;
  return r;
}

std::string strip_dot(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Addresses for each host, looked up together.
void fill_addresses(channel& ch, std::vector<mx_host>& hosts, std::uint16_t port) {
  int pending = 0;
  std::vector<addr_query> qs(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (auto ip = base::ip_address::parse(hosts[i].name)) {
      boost::system::error_code ec;
      hosts[i].addresses.emplace_back(net::asio::ip::make_address(hosts[i].name, ec), port);
      continue;
    }
    qs[i].pending = &pending;
    qs[i].port = port;
    ++pending;
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(ch.get(), hosts[i].name.c_str(), nullptr, &hints, on_addr, &qs[i]);
  }
  ch.run(pending);
  for (std::size_t i = 0; i < hosts.size(); ++i)
    for (auto& e : qs[i].endpoints) hosts[i].addresses.push_back(e);
}

}  // namespace

resolver::resolver(std::vector<base::host_port> servers, std::chrono::milliseconds timeout, int tries)
    : timeout_(timeout), tries_(tries) {
  for (auto& s : servers) {
    if (!servers_csv_.empty()) servers_csv_ += ',';
    servers_csv_ += s.to_string();
  }
}

resolution resolver::host(const std::string& name, std::uint16_t port) const {
  channel ch(servers_csv_, timeout_, tries_);
  std::vector<mx_host> hosts{{strip_dot(name), 0, {}}};
  fill_addresses(ch, hosts, port);
  if (hosts[0].addresses.empty()) return failure("4.4.3", "no address found for " + name, false);
  return resolution{std::move(hosts), {}, false, {}};
}

namespace {

struct txt_query {
  int pending = 1;
  int status = ARES_SUCCESS;
  std::vector<std::string> records;
};

void on_txt(void* arg, int status, int, unsigned char* abuf, int alen) {
  auto* q = static_cast<txt_query*>(arg);
  q->status = status;
  if (status == ARES_SUCCESS) {
    ares_txt_ext* head = nullptr;
    q->status = ares_parse_txt_reply_ext(abuf, alen, &head);
    for (auto* t = head; t; t = t->next) {
      if (t->record_start || q->records.empty()) q->records.emplace_back();
      q->records.back().append(reinterpret_cast<const char*>(t->txt), t->length);
    }
    if (head) ares_free_data(head);
  }
  --q->pending;
}

}  // namespace

std::optional<std::vector<std::string>> resolver::txt(const std::string& name) const {
  channel ch(servers_csv_, timeout_, tries_);
  txt_query q;
  ares_query(ch.get(), name.c_str(), ns_c_in, ns_t_txt, on_txt, &q);
  ch.run(q.pending);
  if (q.status == ARES_ENODATA || q.status == ARES_ENOTFOUND) return std::vector<std::string>{};
  if (q.status != ARES_SUCCESS) return std::nullopt;
  return q.records;
}

resolution resolver::mx(const std::string& domain, std::uint16_t port) const {
  channel ch(servers_csv_, timeout_, tries_);
  mx_query q;
  ares_query(ch.get(), domain.c_str(), ns_c_in, ns_t_mx, on_mx, &q);
  ch.run(q.pending);

  std::vector<mx_host> hosts;
  if (q.status == ARES_ENODATA || (q.status == ARES_SUCCESS && q.records.empty())) {
    hosts.push_back({domain, 0, {}});  // no MX: the domain is its own mail host
  } else if (q.status == ARES_ENOTFOUND) {
    return failure("5.1.2", "domain " + domain + " does not exist (NXDOMAIN)", true);
  } else if (q.status != ARES_SUCCESS) {
    return failure("4.4.3", "MX lookup for " + domain + " failed: " + ares_strerror(q.status), false);
  } else {
    for (auto& [pref, host] : q.records) {
      auto name = strip_dot(host);
      if (name.empty()) {
        if (q.records.size() == 1) return failure("5.1.10", "domain " + domain + " accepts no mail (null MX)", true);
        continue;  // a null MX next to real ones: ignore it
      }
      hosts.push_back({base::to_lower(name), pref, {}});
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::shuffle(hosts.begin(), hosts.end(), rng);
    std::stable_sort(hosts.begin(), hosts.end(), [](auto& a, auto& b) { return a.preference < b.preference; });
    if (hosts.size() > 10) hosts.resize(10);
  }
  fill_addresses(ch, hosts, port);
  std::erase_if(hosts, [](const mx_host& h) { return h.addresses.empty(); });
  if (hosts.empty()) return failure("4.4.3", "no address found for the mail hosts of " + domain, false);
  return resolution{std::move(hosts), {}, false, {}};
}

}  // namespace smtpsd::delivery
