#include "inbound/report.hpp"

#include <algorithm>

#include "base/base64.hpp"
#include "base/strings.hpp"
#include "message/address_list.hpp"

namespace smtpsd::inbound {

namespace {

constexpr unsigned max_depth = 8;
constexpr unsigned max_parts = 200;
constexpr std::size_t max_value = 1000;       // octets kept of one field value
constexpr std::size_t max_text = 256 * 1024;  // octets of text scanned for a text bounce
constexpr std::size_t max_addresses = 100;
constexpr std::size_t max_recipients = 100;

struct field {
  std::string name;  // lower case
  std::string value;  // unfolded, trimmed, cut at max_value
};

std::string cut(std::string_view s) { return std::string(s.substr(0, max_value)); }

// Lines of a CRLF (or LF) text, without their line ends.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!f(line)) return;
    if (nl == std::string_view::npos) return;
    text.remove_prefix(nl + 1);
  }
}

// A header section, leniently: a line that is neither a field nor a
// continuation is skipped rather than refused.
std::vector<field> parse_fields(std::string_view section) {
  std::vector<field> out;
  for_each_line(section, [&](std::string_view line) {
    if (out.size() > 500) return false;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      if (!out.empty() && out.back().value.size() < max_value) {
        out.back().value += ' ';
        out.back().value += base::trim(line);
        out.back().value = cut(out.back().value);
      }
      return true;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return true;
    auto name = line.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos) return true;
    out.push_back({base::to_lower(name), cut(base::trim(line.substr(colon + 1)))});
    return true;
  });
  for (auto& f : out) f.value = std::string(base::trim(f.value));
  return out;
}

const std::string* get(const std::vector<field>& fields, std::string_view name) {
  for (auto& f : fields)
    if (f.name == name) return &f.value;
  return nullptr;
}

std::string value_of(const std::vector<field>& fields, std::string_view name) {
  auto* v = get(fields, name);
  return v ? *v : std::string();
}

// "rfc822; user@example.com" → "user@example.com"; also strips <>.
std::string after_type(std::string_view v) {
  if (auto semi = v.find(';'); semi != std::string_view::npos) v = v.substr(semi + 1);
  v = base::trim(v);
  if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
  return std::string(base::trim(v));
}

struct content_type {
  std::string type;  // "multipart/report", lower case; "text/plain" when absent
  std::string boundary;
  std::string report_type;
};

// The value of parameter `name` in a Content-Type value (quoted or not).
std::string param(std::string_view v, std::string_view name) {
  std::size_t i = v.find(';');
  while (i != std::string_view::npos && i < v.size()) {
    ++i;
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
    auto eq = v.find('=', i);
    if (eq == std::string_view::npos) return {};
    auto key = base::trim(v.substr(i, eq - i));
    std::string val;
    std::size_t j = eq + 1;
    while (j < v.size() && (v[j] == ' ' || v[j] == '\t')) ++j;
    if (j < v.size() && v[j] == '"') {
      ++j;
      while (j < v.size() && v[j] != '"') {
        if (v[j] == '\\' && j + 1 < v.size()) ++j;
        val += v[j++];
      }
      ++j;
    } else {
      while (j < v.size() && v[j] != ';') val += v[j++];
      val = std::string(base::trim(val));
    }
    if (base::iequals(key, name)) return val;
    i = v.find(';', j);
  }
  return {};
}

content_type parse_content_type(const std::vector<field>& fields) {
  content_type c;
  auto* v = get(fields, "content-type");
  if (!v) {
    c.type = "text/plain";
    return c;
  }
  c.type = base::to_lower(base::trim(std::string_view(*v).substr(0, v->find(';'))));
  c.boundary = param(*v, "boundary").substr(0, 200);
  c.report_type = base::to_lower(param(*v, "report-type"));
  return c;
}

std::string decode_qp(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = base::ascii_upper(c);
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    if (i + 1 < s.size() && (s[i + 1] == '\r' || s[i + 1] == '\n')) {  // soft line break
      i += (s[i + 1] == '\r' && i + 2 < s.size() && s[i + 2] == '\n') ? 2 : 1;
      continue;
    }
    if (i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
      continue;
    }
    out += s[i];
  }
  return out;
}

std::string decode_body(const std::vector<field>& fields, std::string_view body) {
  auto cte = base::to_lower(value_of(fields, "content-transfer-encoding"));
  if (cte == "base64") {
    std::string compact;
    for (char c : body)
      if (c != '\r' && c != '\n' && c != ' ' && c != '\t') compact += c;
    if (auto d = base::base64_decode(compact)) return *d;
    return std::string(body);
  }
  if (cte == "quoted-printable") return decode_qp(body);
  return std::string(body);
}

// Splits an entity into header section and body.
std::pair<std::string_view, std::string_view> split_entity(std::string_view e) {
  if (e.starts_with("\r\n")) return {{}, e.substr(2)};
  if (e.starts_with("\n")) return {{}, e.substr(1)};
  auto p = e.find("\r\n\r\n");
  auto q = e.find("\n\n");
  if (p == std::string_view::npos && q == std::string_view::npos) return {e, {}};
  if (q != std::string_view::npos && (p == std::string_view::npos || q < p)) return {e.substr(0, q + 1), e.substr(q + 2)};
  return {e.substr(0, p + 2), e.substr(p + 4)};
}

// The parts of a multipart body between its boundaries.
std::vector<std::string_view> split_multipart(std::string_view body, std::string_view boundary, bool& limited) {
  std::vector<std::string_view> parts;
  if (boundary.empty()) return parts;
  const std::string delim = "--" + std::string(boundary);
  std::size_t pos = 0;
  // The first delimiter: at the start or after a line end.
  if (!body.starts_with(delim)) {
    auto f = body.find("\n" + delim);
    if (f == std::string_view::npos) return parts;
    pos = f + 1;
  }
  while (pos < body.size()) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") break;  // the close delimiter
    auto eol = body.find('\n', pos);
    if (eol == std::string_view::npos) break;
    const auto start = eol + 1;
    auto next = body.find("\n" + delim, start);
    auto end = next == std::string_view::npos ? body.size() : next;
    auto part = body.substr(start, end - start);
    if (!part.empty() && part.back() == '\r') part.remove_suffix(1);
    parts.push_back(part);
    if (parts.size() >= max_parts) {
      limited = true;
      break;
    }
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return parts;
}

bool address_char(char c, bool local) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-') return true;
  if (!local) return false;
  return std::string_view("!#$%&'*+/=?^_`{|}~").find(c) != std::string_view::npos;
}

class walker {
 public:
  explicit walker(report& r) : r_(r) {}

  void entity(std::string_view e, unsigned depth) {
    if (++r_.parts > max_parts || depth > max_depth) {
      r_.limited = true;
      return;
    }
    auto [section, body] = split_entity(e);
    auto fields = parse_fields(section);
    if (depth == 0) {
      top_ = fields;
      for (auto* name : {"from", "to", "reply-to"}) add_addresses(value_of(fields, name));
    }
    auto ct = parse_content_type(fields);
    if (ct.type.starts_with("multipart/")) {
      if (ct.type == "multipart/report" && depth <= 1) {
        if (ct.report_type == "delivery-status") r_.kind = report_kind::dsn;
        if (ct.report_type == "feedback-report") r_.kind = report_kind::arf;
      }
      for (auto part : split_multipart(body, ct.boundary, r_.limited)) entity(part, depth + 1);
      return;
    }
    const auto content = decode_body(fields, body);
    if (ct.type == "message/delivery-status" || ct.type == "message/global-delivery-status") {
      delivery_status(content);
    } else if (ct.type == "message/feedback-report") {
      feedback_report(content);
    } else if (ct.type == "message/rfc822" || ct.type == "message/global") {
      original_headers(split_entity(content).first);
    } else if (ct.type == "text/rfc822-headers" || ct.type == "text/global-headers") {
      original_headers(content);
    } else if (ct.type.starts_with("text/") && text_.size() < max_text) {
      text_.append(content.substr(0, max_text - text_.size()));
      text_ += "\n";
    }
  }

  void finish() {
    add_addresses(text_);
    if (r_.kind == report_kind::unknown && looks_like_bounce()) text_bounce();
  }

 private:
  void add_addresses(std::string_view text) {
    for (auto& a : find_addresses(text, max_addresses)) {
      if (r_.addresses.size() >= max_addresses) {
        r_.limited = true;
        return;
      }
      bool seen = false;
      for (auto& x : r_.addresses) seen |= base::iequals(x, a);
      if (!seen) r_.addresses.push_back(a);
    }
  }

  // RFC 3464 §2: a per-message block, then one block per recipient.
  void delivery_status(std::string_view text) {
    std::string block;
    bool first = true;
    auto flush = [&] {
      if (block.empty()) return;
      auto f = parse_fields(block);
      block.clear();
      if (first) {
        first = false;
        if (!get(f, "final-recipient") && !get(f, "original-recipient")) return;
      }
      if (r_.recipients.size() >= max_recipients) {
        r_.limited = true;
        return;
      }
      report_recipient rc;
      rc.address = after_type(value_of(f, "final-recipient"));
      if (rc.address.empty()) rc.address = after_type(value_of(f, "original-recipient"));
      if (rc.address.empty()) return;
      rc.action = base::to_lower(value_of(f, "action"));
      auto status = value_of(f, "status");
      rc.status = std::string(base::trim(std::string_view(status).substr(0, status.find_first_of(" \t("))));
      rc.diagnostic = after_type(value_of(f, "diagnostic-code"));
      rc.remote_mta = after_type(value_of(f, "remote-mta"));
      add_addresses(rc.address);
      r_.recipients.push_back(std::move(rc));
    };
    for_each_line(text, [&](std::string_view line) {
      if (base::trim(line).empty()) {
        flush();
      } else {
        block.append(line).append("\r\n");
      }
      return true;
    });
    flush();
  }

  // RFC 5965 §3.1.
  void feedback_report(std::string_view text) {
    auto f = parse_fields(text);
    r_.feedback_type = base::to_lower(value_of(f, "feedback-type"));
    r_.user_agent = value_of(f, "user-agent");
    r_.arrival_date = value_of(f, "arrival-date");
    if (r_.arrival_date.empty()) r_.arrival_date = value_of(f, "received-date");
    r_.source_ip = value_of(f, "source-ip");
    r_.original_mail_from = after_type(value_of(f, "original-mail-from"));
    r_.reporting_mta = after_type(value_of(f, "reporting-mta"));
    for (auto& x : f)
      if (x.name == "original-rcpt-to" && r_.original_rcpt_to.size() < max_recipients) {
        r_.original_rcpt_to.push_back(after_type(x.value));
        add_addresses(x.value);
      }
    add_addresses(r_.original_mail_from);
  }

  void original_headers(std::string_view section) {
    if (seen_original_) return;
    seen_original_ = true;
    auto f = parse_fields(section);
    r_.original_return_path = after_type(value_of(f, "return-path"));
    r_.original_message_id = value_of(f, "message-id");
    auto from = value_of(f, "from");
    if (auto l = message::parse_address_list(from); l && !l->empty()) r_.original_from = l->front();
    for (auto& x : f)
      if (x.name == "to" || x.name == "cc")
        if (auto l = message::parse_address_list(x.value))
          for (auto& a : *l)
            if (r_.original_to.size() < max_recipients) r_.original_to.push_back(a);
    for (auto& x : f)
      if (x.name == "return-path" || x.name == "to" || x.name == "cc" || x.name == "from") add_addresses(x.value);
  }

  bool looks_like_bounce() const {
    auto from = base::to_lower(value_of(top_, "from"));
    if (from.find("mailer-daemon") != std::string::npos || from.find("postmaster") != std::string::npos) return true;
    auto subject = base::to_lower(value_of(top_, "subject"));
    for (auto* w : {"undeliver", "delivery status", "delivery failure", "returned mail", "failure notice",
                    "delivery has failed", "could not be delivered", "mail delivery failed"})
      if (subject.find(w) != std::string::npos) return true;
    return false;
  }

  // A bounce in prose: the first enhanced status code (or reply code) and
  // the line it is on; the recipients are the addresses it names.
  void text_bounce() {
    r_.kind = report_kind::text_bounce;
    std::string status, diagnostic;
    for_each_line(text_, [&](std::string_view line) {
      auto s = find_status(line);
      if (!s.empty()) {
        status = s;
        diagnostic = cut(base::trim(line));
        return false;
      }
      if (diagnostic.empty() && find_reply_code(line)) diagnostic = cut(base::trim(line));
      return true;
    });
    if (status.empty() && !diagnostic.empty()) status = diagnostic[0] == '4' ? "4.0.0" : "5.0.0";
    for (auto& a : find_addresses(text_, max_addresses)) {
      auto lower = base::to_lower(a);
      if (lower.starts_with("mailer-daemon@") || lower.starts_with("postmaster@")) continue;
      if (r_.recipients.size() >= max_recipients) break;
      r_.recipients.push_back({a, "failed", status, diagnostic, ""});
    }
  }

  // "5.1.1" anywhere in the line, with digits of the right lengths around the dots.
  static std::string find_status(std::string_view line) {
    for (std::size_t i = 0; i + 5 <= line.size(); ++i) {
      char c = line[i];
      if ((c != '2' && c != '4' && c != '5') || line[i + 1] != '.') continue;
      if (i > 0 && (std::isalnum(static_cast<unsigned char>(line[i - 1])) || line[i - 1] == '.')) continue;
      std::size_t j = i + 2, a = 0, b = 0;
      while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j])) && a < 4) ++j, ++a;
      if (a == 0 || a > 3 || j >= line.size() || line[j] != '.') continue;
      ++j;
      while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j])) && b < 4) ++j, ++b;
      if (b == 0 || b > 3 || (j < line.size() && (std::isalnum(static_cast<unsigned char>(line[j])) || line[j] == '.')))
        continue;
      if (c == '2') continue;
      return std::string(line.substr(i, j - i));
    }
    return {};
  }

  static bool find_reply_code(std::string_view line) {
    auto t = base::trim(line);
    return t.size() >= 4 && (t[0] == '5' || t[0] == '4') && std::isdigit(static_cast<unsigned char>(t[1])) &&
           std::isdigit(static_cast<unsigned char>(t[2])) && (t[3] == ' ' || t[3] == '-');
  }

  report& r_;
  std::vector<field> top_;
  std::string text_;
  bool seen_original_ = false;
};

}  // namespace

std::string_view to_string(report_kind k) {
  switch (k) {
    case report_kind::dsn: return "dsn";
    case report_kind::arf: return "arf";
    case report_kind::text_bounce: return "text";
    case report_kind::unknown: return "unknown";
  }
  return "unknown";
}

std::vector<std::string> find_addresses(std::string_view text, std::size_t max) {
  std::vector<std::string> out;
  std::size_t from = 0;
  while (out.size() < max) {
    auto at = text.find('@', from);
    if (at == std::string_view::npos) break;
    from = at + 1;
    std::size_t l = at;
    while (l > 0 && at - l < 64 && address_char(text[l - 1], true)) --l;
    std::size_t r = at + 1;
    while (r < text.size() && r - at < 255 && address_char(text[r], false)) ++r;
    auto local = text.substr(l, at - l);
    auto domain = text.substr(at + 1, r - at - 1);
    while (!local.empty() && local.front() == '.') local.remove_prefix(1);
    while (!domain.empty() && (domain.back() == '.' || domain.back() == '-')) domain.remove_suffix(1);
    if (local.empty() || domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.front() == '-')
      continue;
    std::string a = std::string(local) + "@" + std::string(domain);
    bool seen = false;
    for (auto& x : out) seen |= base::iequals(x, a);
    if (!seen) out.push_back(std::move(a));
    from = r;
  }
  return out;
}

report parse_report(std::string_view message) {
  report r;
  walker w(r);
  w.entity(message, 0);
  w.finish();
  return r;
}

}  // namespace smtpsd::inbound
