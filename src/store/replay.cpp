#include "store/replay.hpp"

#include <cstdint>

#include "base/crc32c.hpp"

namespace smtpsd::store {

namespace {

constexpr unsigned char version = 1;

class writer {
 public:
  void u64(std::uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void str(std::string_view s) {
    u64(s.size());
    out.append(s);
  }
  void time(time_point t) { i64(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()); }
  void opt_time(const std::optional<time_point>& t) {
    u64(t ? 1 : 0);
    if (t) time(*t);
  }
  std::string out;
};

class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  bool u64(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const auto b = static_cast<unsigned char>(in_.front());
      in_.remove_prefix(1);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  template <typename T>
  bool num(T& v) {
    std::uint64_t u = 0;
    if (!u64(u)) return false;
    v = static_cast<T>(u);
    return true;
  }
  bool str(std::string& s) {
    std::uint64_t n = 0;
    if (!u64(n) || n > in_.size()) return false;
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool time(time_point& t) {
    std::int64_t ms = 0;
    if (!num(ms)) return false;
    t = time_point(std::chrono::duration_cast<time_point::duration>(std::chrono::milliseconds(ms)));
    return true;
  }
  bool opt_time(std::optional<time_point>& t) {
    std::uint64_t has = 0;
    if (!u64(has)) return false;
    if (!has) return true;
    time_point v;
    if (!time(v)) return false;
    t = v;
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

std::string encode_replay(const queued_message& m, std::span<const stored_event> events) {
  writer w;
  w.out.assign(4, '\0');  // the CRC, below
  w.out.push_back(static_cast<char>(version));
  w.str(m.id);
  w.i64(m.account_id);
  w.str(m.account);
  w.str(m.from);
  w.u64(m.size);
  w.time(m.created);
  w.str(m.message_id);
  w.str(m.envid);
  w.u64(static_cast<unsigned>(m.ret));
  w.u64(static_cast<unsigned>(m.body));
  w.u64(m.smtputf8 ? 1 : 0);
  w.u64(static_cast<unsigned>(m.tls));
  w.str(m.configuration_set);
  w.str(encode_tags(m.tags));
  w.str(m.client_ip);
  w.u64(m.recipients.size());
  for (const auto& r : m.recipients) {
    w.str(r.address);
    w.str(r.orcpt);
    w.u64(r.notify.bits());
    w.u64(static_cast<unsigned>(r.status));
    w.u64(r.attempts);
    w.opt_time(r.next_attempt);
    w.str(r.last_response);
    w.opt_time(r.delay_warned);
  }
  w.u64(events.size());
  for (const auto& e : events) {
    w.str(e.id);
    w.time(e.time);
    w.str(e.type);
    w.str(e.account);
    w.str(e.configuration_set);
    w.u64(e.recipients);
    w.str(e.record);
  }
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
  auto& m = out.message;
  std::string tags;
  unsigned ret = 0, body = 0, utf8 = 0, tls = 0;
  std::uint64_t n = 0;
  if (!r.str(m.id) || !r.num(m.account_id) || !r.str(m.account) || !r.str(m.from) || !r.num(m.size) ||
      !r.time(m.created) || !r.str(m.message_id) || !r.str(m.envid) || !r.num(ret) || !r.num(body) || !r.num(utf8) ||
      !r.num(tls) || !r.str(m.configuration_set) || !r.str(tags) || !r.str(m.client_ip) || !r.u64(n))
    return std::nullopt;
  m.ret = static_cast<base::dsn_ret>(ret);
  m.body = static_cast<base::body_type>(body);
  m.smtputf8 = utf8 != 0;
  m.tls = static_cast<base::tls_demand>(tls);
  m.tags = decode_tags(tags);
  for (std::uint64_t i = 0; i < n; ++i) {
    queued_recipient q;
    unsigned notify = 0, status = 0;
    if (!r.str(q.address) || !r.str(q.orcpt) || !r.num(notify) || !r.num(status) || !r.num(q.attempts) ||
        !r.opt_time(q.next_attempt) || !r.str(q.last_response) || !r.opt_time(q.delay_warned))
      return std::nullopt;
    q.notify = base::dsn_notify(notify);
    q.status = static_cast<rcpt_status>(status);
    m.recipients.push_back(std::move(q));
  }
  if (!r.u64(n)) return std::nullopt;
  for (std::uint64_t i = 0; i < n; ++i) {
    stored_event e;
    if (!r.str(e.id) || !r.time(e.time) || !r.str(e.type) || !r.str(e.account) || !r.str(e.configuration_set) ||
        !r.num(e.recipients) || !r.str(e.record))
      return std::nullopt;
    out.events.push_back(std::move(e));
  }
  if (!r.done()) return std::nullopt;
  return out;
}

}  // namespace smtpsd::store
