#include "events/event.hpp"

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "base/time_format.hpp"
#include "message/headers.hpp"

namespace smtpsd::events {

namespace {

using ojson = nlohmann::ordered_json;

ojson str_or_null(const std::string& s) { return s.empty() ? ojson(nullptr) : ojson(s); }

std::int64_t ms_of(base::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
base::time_point from_ms(std::int64_t ms) { return base::time_point{std::chrono::milliseconds{ms}}; }

ojson smtpsd_fields(const event& e) {
  ojson j;
  j["type"] = e.type;
  j["event_id"] = str_or_null(e.id);
  j["time"] = base::rfc3339(e.time);
  j["queue_id"] = str_or_null(e.queue_id);
  j["message_id"] = str_or_null(e.message_id);
  j["account"] = str_or_null(e.account);
  j["from"] = e.from;  // "" is the null sender, a value and not unknown
  j["recipients"] = e.recipients;
  j["smtp_response"] = str_or_null(e.smtp_response);
  j["remote_mta"] = str_or_null(e.remote_mta);
  j["configuration_set"] = str_or_null(e.configuration_set);
  auto tags = ojson::object();
  for (auto& [k, v] : e.tags) tags[k] = v;
  j["tags"] = std::move(tags);
  if (e.type == "bounce") {
    j["bounce_type"] = str_or_null(e.bounce_type);
    j["bounce_sub_type"] = str_or_null(e.bounce_sub_type);
  }
  if (e.type == "reject") j["reason"] = str_or_null(e.reason);
  return j;
}

std::string dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

std::string str(const ojson& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || !it->is_string() ? std::string{} : it->get<std::string>();
}

}  // namespace

bool known_type(std::string_view t) {
  for (auto* k : types)
    if (t == k) return true;
  return false;
}

std::string make_event_id(base::time_point now, base::random_source& random) {
  const auto ms = static_cast<std::uint64_t>(ms_of(now)) & 0xffffffffffffull;
  const auto a = random.next_u64(), b = random.next_u64();
  // 48 bits of milliseconds, version 7, 12 random bits, variant 10, 62 random bits.
  const std::uint64_t hi = (ms << 16) | 0x7000 | (a & 0x0fff);
  const std::uint64_t lo = (b & 0x3fffffffffffffffull) | 0x8000000000000000ull;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                     lo & 0xffffffffffffull);
}

std::string to_json(const event& e) { return dump(smtpsd_fields(e)); }

std::string to_record(const event& e) {
  auto j = smtpsd_fields(e);
  ojson x;
  x["time_ms"] = ms_of(e.time);
  x["tags"] = ojson::array();
  for (auto& [k, v] : e.tags) x["tags"].push_back({k, v});
  x["bounce_type"] = e.bounce_type;
  x["bounce_sub_type"] = e.bounce_sub_type;
  x["reason"] = e.reason;
  auto details = ojson::array();
  for (auto& d : e.details) details.push_back({d.address, d.status, d.diagnostic});
  x["details"] = std::move(details);
  auto headers = ojson::array();
  for (auto& [n, v] : e.mail.headers) headers.push_back({n, v});
  x["mail"] = {{"submitted_ms", ms_of(e.mail.submitted)},
               {"destination", e.mail.destination},
               {"headers", std::move(headers)},
               {"headers_truncated", e.mail.headers_truncated},
               {"client_ip", e.mail.client_ip}};
  x["remote_ip"] = e.remote_ip;
  x["processing_ms"] = e.processing.count();
  if (e.expires) x["expires_ms"] = ms_of(*e.expires);
  j["x"] = std::move(x);
  return dump(j);
}

event from_record(std::string_view record) {
  auto j = ojson::parse(record, nullptr, false);
  if (!j.is_object() || !j.contains("x")) throw std::runtime_error("not an event record");
  const auto& x = j["x"];
  event e;
  e.id = str(j, "event_id");
  e.type = str(j, "type");
  e.time = from_ms(x.value("time_ms", std::int64_t{0}));
  e.queue_id = str(j, "queue_id");
  e.message_id = str(j, "message_id");
  e.account = str(j, "account");
  e.from = str(j, "from");
  if (j.contains("recipients") && j["recipients"].is_array())
    for (auto& r : j["recipients"]) e.recipients.push_back(r.get<std::string>());
  e.smtp_response = str(j, "smtp_response");
  e.remote_mta = str(j, "remote_mta");
  e.configuration_set = str(j, "configuration_set");
  for (auto& t : x.value("tags", ojson::array())) e.tags.emplace_back(t[0].get<std::string>(), t[1].get<std::string>());
  e.bounce_type = str(x, "bounce_type");
  e.bounce_sub_type = str(x, "bounce_sub_type");
  e.reason = str(x, "reason");
  for (auto& d : x.value("details", ojson::array()))
    e.details.push_back({d[0].get<std::string>(), d[1].get<std::string>(), d[2].get<std::string>()});
  if (auto m = x.find("mail"); m != x.end()) {
    e.mail.submitted = from_ms(m->value("submitted_ms", std::int64_t{0}));
    for (auto& d : m->value("destination", ojson::array())) e.mail.destination.push_back(d.get<std::string>());
    for (auto& h : m->value("headers", ojson::array())) e.mail.headers.emplace_back(h[0].get<std::string>(), h[1].get<std::string>());
    e.mail.headers_truncated = m->value("headers_truncated", false);
    e.mail.client_ip = str(*m, "client_ip");
  }
  e.remote_ip = str(x, "remote_ip");
  e.processing = std::chrono::milliseconds(x.value("processing_ms", std::int64_t{0}));
  if (x.contains("expires_ms")) e.expires = from_ms(x["expires_ms"].get<std::int64_t>());
  return e;
}

store::stored_event to_stored(const event& e) {
  store::stored_event s;
  s.id = e.id;
  s.time = e.time;
  s.type = e.type;
  s.account = e.account;
  s.configuration_set = e.configuration_set;
  s.recipients = static_cast<std::uint32_t>(e.recipients.size());
  s.record = to_record(e);
  return s;
}

event about_message(const store::queued_message& m, std::string type, std::string id, base::time_point now,
                    const std::string* header_section) {
  event e;
  e.id = std::move(id);
  e.type = std::move(type);
  e.time = now;
  e.queue_id = m.id;
  e.message_id = m.message_id;
  e.account = m.account;
  e.from = m.from;
  e.configuration_set = m.configuration_set;
  e.tags = m.tags;
  e.mail.submitted = m.created;
  for (auto& r : m.recipients) e.mail.destination.push_back(r.address);
  e.mail.client_ip = m.client_ip;
  if (header_section) e.mail = headers_of(*header_section, std::move(e.mail));
  return e;
}

mail_info headers_of(std::string_view header_section, mail_info m) {
  m.headers.clear();
  m.headers_truncated = false;
  auto fields = message::parse_header_section(header_section);
  if (!fields) return m;
  std::size_t used = 0;
  for (auto& f : *fields) {
    if (used + f.raw.size() > max_header_bytes) {
      m.headers_truncated = true;
      break;
    }
    used += f.raw.size();
    m.headers.emplace_back(std::string(f.name), message::unfold(f.value));
  }
  return m;
}

}  // namespace smtpsd::events
