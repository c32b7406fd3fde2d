#include "events/event.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "base/json_out.hpp"
#include "base/time_format.hpp"
#include "message/headers.hpp"

namespace smtpsd::events {

namespace {

using ojson = nlohmann::ordered_json;

std::int64_t ms_of(base::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
base::time_point from_ms(std::int64_t ms) { return base::time_point{std::chrono::milliseconds{ms}}; }

// The members of SPEC §5, in its order; the object is left open.
void smtpsd_fields(base::json_out& j, const event& e) {
  j.begin_object();
  j.member("type", e.type);
  j.key("event_id").string_or_null(e.id);
  j.member("time", base::rfc3339(e.time));
  j.key("queue_id").string_or_null(e.queue_id);
  j.key("message_id").string_or_null(e.message_id);
  j.key("account").string_or_null(e.account);
  j.member("from", e.from);  // "" is the null sender, a value and not unknown
  j.key("recipients").strings(e.recipients);
  j.key("smtp_response").string_or_null(e.smtp_response);
  j.key("remote_mta").string_or_null(e.remote_mta);
  j.key("configuration_set").string_or_null(e.configuration_set);
  j.key("tags").begin_object();
  for (std::size_t i = 0; i < e.tags.size(); ++i) {
    // A repeated name keeps its first place and takes its last value.
    const auto& name = e.tags[i].first;
    if (std::any_of(e.tags.begin(), e.tags.begin() + static_cast<std::ptrdiff_t>(i),
                    [&](const auto& t) { return t.first == name; }))
      continue;
    const std::string* value = &e.tags[i].second;
    for (std::size_t k = i + 1; k < e.tags.size(); ++k)
      if (e.tags[k].first == name) value = &e.tags[k].second;
    j.member(name, *value);
  }
  j.end_object();
  if (e.type == "bounce") {
    j.key("bounce_type").string_or_null(e.bounce_type);
    j.key("bounce_sub_type").string_or_null(e.bounce_sub_type);
  }
  if (e.type == "reject") j.key("reason").string_or_null(e.reason);
  if (e.type == "complaint") j.key("feedback_type").string_or_null(e.reason);
  if (e.type == "reputation") {
    j.key("status").string_or_null(e.status);
    j.key("reason").string_or_null(e.reason);
  }
  if (e.type == "delivery" || e.type == "bounce" || e.type == "delivery_delay") {
    j.key("tls");
    if (!e.tls) {
      j.null();
    } else {
      j.begin_object();
      j.member("version", e.tls->version);
      j.member("cipher", e.tls->cipher);
      j.member("policy", e.tls->policy);
      j.member("verified", e.tls->verified);
      j.end_object();
    }
  }
}

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

std::string to_json(const event& e) {
  std::string out;
  append_json(out, e);
  return out;
}

void append_json(std::string& out, const event& e) {
  base::json_out j(out);
  smtpsd_fields(j, e);
  j.end_object();
}

namespace {

// to_record, and where in it the smtpsd object (left open) ends.
std::string render_record(const event& e, std::size_t& smtpsd_end) {
  // One allocation: the fixed members take about 650 octets, the header section
  // grows by its escapes (two octets more per line), and each recipient
  // appears twice.
  std::size_t room = 768 + e.mail.header_section.size() + e.mail.header_section.size() / 16;
  for (const auto& r : e.recipients) room += 2 * (r.size() + 4);
  std::string out;
  out.reserve(room);
  base::json_out j(out);
  smtpsd_fields(j, e);
  smtpsd_end = out.size();
  j.key("x").begin_object();
  j.member("time_ms", ms_of(e.time));
  j.key("tags").begin_array();
  for (auto& [k, v] : e.tags) j.begin_array().value(k).value(v).end_array();
  j.end_array();
  j.member("bounce_type", e.bounce_type);
  j.member("bounce_sub_type", e.bounce_sub_type);
  j.member("reason", e.reason);
  j.member("status", e.status);
  j.key("details").begin_array();
  for (auto& d : e.details) j.begin_array().value(d.address).value(d.status).value(d.diagnostic).end_array();
  j.end_array();
  j.key("mail").begin_object();
  j.member("submitted_ms", ms_of(e.mail.submitted));
  j.key("destination").strings(e.mail.destination);
  j.member("header_section", e.mail.header_section);
  j.member("headers_truncated", e.mail.headers_truncated);
  j.member("client_ip", e.mail.client_ip);
  j.end_object();
  j.member("remote_ip", e.remote_ip);
  j.member("processing_ms", static_cast<std::int64_t>(e.processing.count()));
  if (e.expires) j.member("expires_ms", ms_of(*e.expires));
  j.end_object();
  j.end_object();
  return out;
}

}  // namespace

std::string to_record(const event& e) {
  std::size_t end = 0;
  return render_record(e, end);
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
  e.status = str(x, "status");
  for (auto& d : x.value("details", ojson::array()))
    e.details.push_back({d[0].get<std::string>(), d[1].get<std::string>(), d[2].get<std::string>()});
  if (auto m = x.find("mail"); m != x.end()) {
    e.mail.submitted = from_ms(m->value("submitted_ms", std::int64_t{0}));
    for (auto& d : m->value("destination", ojson::array())) e.mail.destination.push_back(d.get<std::string>());
    e.mail.header_section = str(*m, "header_section");
    // Records written before the raw section was kept have the fields.
    for (auto& h : m->value("headers", ojson::array()))
      e.mail.header_section += h[0].get<std::string>() + ": " + h[1].get<std::string>() + "\r\n";
    e.mail.headers_truncated = m->value("headers_truncated", false);
    e.mail.client_ip = str(*m, "client_ip");
  }
  e.remote_ip = str(x, "remote_ip");
  if (auto t = j.find("tls"); t != j.end() && t->is_object())
    e.tls = event::tls_info{str(*t, "version"), str(*t, "cipher"), str(*t, "policy"), t->value("verified", false)};
  e.processing = std::chrono::milliseconds(x.value("processing_ms", std::int64_t{0}));
  if (x.contains("expires_ms")) e.expires = from_ms(x["expires_ms"].get<std::int64_t>());
  return e;
}

namespace {

store::stored_event stored_row(const event& e, std::string record) {
  store::stored_event s;
  s.id = e.id;
  s.time = e.time;
  s.type = e.type;
  s.account = e.account;
  s.configuration_set = e.configuration_set;
  s.recipients = static_cast<std::uint32_t>(e.recipients.size());
  s.record = std::move(record);
  return s;
}

}  // namespace

store::stored_event to_stored(const event& e) { return stored_row(e, to_record(e)); }

store::stored_event to_stored_rendering_line(event& e) {
  std::size_t end = 0;
  auto record = render_record(e, end);
  e.journal_line.reserve(end + 2);
  e.journal_line.assign(record, 0, end);
  e.journal_line += "}\n";
  return stored_row(e, std::move(record));
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
  m.headers_truncated = false;
  if (header_section.size() <= max_header_bytes) {
    m.header_section.assign(header_section);
    return m;
  }
  m.header_section.clear();
  auto fields = message::parse_header_section(header_section);
  if (!fields) return m;
  std::size_t used = 0;
  for (auto& f : *fields) {
    if (used + f.raw.size() > max_header_bytes) {
      m.headers_truncated = true;
      break;
    }
    used += f.raw.size();
  }
  m.header_section.assign(header_section.substr(0, used));
  return m;
}

std::vector<std::pair<std::string, std::string>> header_fields(const mail_info& m) {
  std::vector<std::pair<std::string, std::string>> out;
  auto fields = message::parse_header_section(m.header_section);
  if (!fields) return out;
  out.reserve(fields->size());
  for (auto& f : *fields) out.emplace_back(std::string(f.name), message::unfold(f.value));
  return out;
}

}  // namespace smtpsd::events
