#include "store/replay.hpp"

#include <cstdint>

#include "base/crc32c.hpp"

namespace smtpsd::store {

namespace {

constexpr unsigned char version = 1;

// One list of fields, walked by both: the writer appends each, the reader
// fills each in (and after a failure, touches nothing more).
class writer {
 public:
  template <typename T>
  void num(const T& v) {
    auto u = static_cast<std::uint64_t>(v);
    while (u >= 0x80) {
      out.push_back(static_cast<char>((u & 0x7f) | 0x80));
      u >>= 7;
    }
    out.push_back(static_cast<char>(u));
  }
  void str(const std::string& s) {
    num(s.size());
    out.append(s);
  }
  void time(const time_point& t) {
    num(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  }
  void opt_time(const std::optional<time_point>& t) {
    num(t ? 1 : 0);
    if (t) time(*t);
  }
  void notify(const base::dsn_notify& n) { num(n.bits()); }
  void tags(const std::vector<std::pair<std::string, std::string>>& t) { str(encode_tags(t)); }
  template <typename List, typename Each>
  void list(const List& items, Each each) {
    num(items.size());
    for (const auto& item : items) each(item);
  }
  std::string out;
};

class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  template <typename T>
  void num(T& v) {
    std::uint64_t u = 0;
    int shift = 0;
    for (;; shift += 7) {
      if (!ok || in_.empty() || shift >= 64) return fail();
      const auto b = static_cast<unsigned char>(in_.front());
      in_.remove_prefix(1);
      u |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    v = static_cast<T>(u);
  }
  void str(std::string& s) {
    std::uint64_t n = 0;
    num(n);
    if (!ok || n > in_.size()) return fail();
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
  }
  void time(time_point& t) {
    std::int64_t ms = 0;
    num(ms);
    t = time_point(std::chrono::duration_cast<time_point::duration>(std::chrono::milliseconds(ms)));
  }
  void opt_time(std::optional<time_point>& t) {
    std::uint64_t has = 0;
    num(has);
    if (!ok || !has) return;
    time(t.emplace());
  }
  void notify(base::dsn_notify& n) {
    unsigned bits = 0;
    num(bits);
    n = base::dsn_notify(bits);
  }
  void tags(std::vector<std::pair<std::string, std::string>>& t) {
    std::string text;
    str(text);
    t = decode_tags(text);
  }
  template <typename List, typename Each>
  void list(List& items, Each each) {
    std::uint64_t n = 0;
    num(n);
    for (std::uint64_t i = 0; ok && i < n; ++i) each(items.emplace_back());
  }
  bool ok = true;
  bool done() const { return ok && in_.empty(); }

 private:
  void fail() { ok = false; }
  std::string_view in_;
};

// M is queued_message (or const, to write); Events a span of stored_event
// to write, a vector to read into.
template <typename A, typename M, typename Events>
void walk(A& a, M& m, Events& events) {
  a.str(m.id);
  a.num(m.account_id);
  a.str(m.account);
  a.str(m.from);
  a.num(m.size);
  a.time(m.created);
  a.str(m.message_id);
  a.str(m.envid);
  a.num(m.ret);
  a.num(m.body);
  a.num(m.smtputf8);
  a.num(m.tls);
  a.str(m.configuration_set);
  a.tags(m.tags);
  a.str(m.client_ip);
  a.list(m.recipients, [&](auto& r) {
    a.str(r.address);
    a.str(r.orcpt);
    a.notify(r.notify);
    a.num(r.status);
    a.num(r.attempts);
    a.opt_time(r.next_attempt);
    a.str(r.last_response);
    a.opt_time(r.delay_warned);
  });
  a.list(events, [&](auto& e) {
    a.str(e.id);
    a.time(e.time);
    a.str(e.type);
    a.str(e.account);
    a.str(e.configuration_set);
    a.num(e.recipients);
    a.str(e.record);
  });
}

}  // namespace

std::string encode_replay(const queued_message& m, std::span<const stored_event> events) {
  writer w;
  w.out.assign(4, '\0');  // the CRC, below
  w.out.push_back(static_cast<char>(version));
  walk(w, m, events);
  const auto crc = base::crc32c(std::string_view(w.out).substr(4));
  for (int i = 0; i < 4; ++i) w.out[static_cast<std::size_t>(i)] = static_cast<char>((crc >> (8 * i)) & 0xff);
  return std::move(w.out);
}

std::optional<replay_entry> decode_replay(std::string_view data) {
  if (data.size() < 5) return std::nullopt;
  std::uint32_t crc = 0;
  for (int i = 3; i >= 0; --i) crc = (crc << 8) | static_cast<unsigned char>(data[static_cast<std::size_t>(i)]);
  if (crc != base::crc32c(data.substr(4)) || static_cast<unsigned char>(data[4]) != version) return std::nullopt;
  reader r(data.substr(5));
  replay_entry out;
  walk(r, out.message, out.events);
  if (!r.done()) return std::nullopt;
  return out;
}

std::vector<std::int64_t> enqueue_covered(queue_store& queue, spool& bodies, std::span<const queued_message> batch,
                                          std::span<const stored_event> events, enqueue_lease lease,
                                          const std::optional<spool_cover>& cover) {
  auto tokens = queue.enqueue(batch, events, lease, cover);
  if (cover) bodies.recorded(cover->through);
  return tokens;
}

}  // namespace smtpsd::store
