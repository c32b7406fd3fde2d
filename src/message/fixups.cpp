#include "message/fixups.hpp"

#include <fmt/format.h>

#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "message/headers.hpp"
#include "message/ses_headers.hpp"

namespace smtpsd::message {

namespace {
std::string sanitize(std::string_view s) {
  std::string out;
  for (char c : s) out += (c == ';' || c == '(' || c == ')' || c == '\r' || c == '\n') ? '_' : c;
  return out;
}
}  // namespace

std::string received_field(const trace_info& t) {
  // RFC 3848 protocol names: ESMTP + S (TLS) + A (authenticated).
  std::string proto = t.esmtp ? "ESMTP" : "SMTP";
  if (!t.tls_version.empty()) proto += "S";
  if (t.authenticated) proto += "A";
  std::string f = fmt::format("Received: from {} ([{}])\r\n\tby {} (smtpsd) with {} id {}", sanitize(t.helo),
                              t.client_ip, t.hostname, proto, t.queue_id);
  if (!t.tls_version.empty()) f += fmt::format("\r\n\t(using {} with cipher {})", t.tls_version, t.tls_cipher);
  f += fmt::format(";\r\n\t{}\r\n", base::rfc5322_date(t.now));
  return f;
}

std::optional<fixed_headers> apply_submission_fixups(std::string_view section, const trace_info& t) {
  auto fields = parse_header_section(section);
  if (!fields) return std::nullopt;
  fixed_headers out;
  out.section.reserve(section.size() + 512);
  out.section += received_field(t);
  for (auto& f : *fields) {
    if (base::iequals(f.name, "Bcc")) continue;
    if (base::iequals(f.name, "TLS-Required") && base::iequals(base::trim(unfold(f.value)), "No"))
      out.tls_required_no = true;
    if (is_ses_header(f.name)) {
      auto& slot = base::iequals(f.name, "X-SES-CONFIGURATION-SET") ? out.configuration_set : out.message_tags;
      if (!slot) slot = unfold(f.value);
      continue;
    }
    out.section += f.raw;
  }
  if (!find_field(*fields, "Date")) out.section += fmt::format("Date: {}\r\n", base::rfc5322_date(t.now));
  if (auto* mid = find_field(*fields, "Message-ID")) {
    out.message_id = unfold(mid->value);
  } else {
    out.message_id = fmt::format("<{}@{}>", t.queue_id, t.hostname);
    out.section += fmt::format("Message-ID: {}\r\n", out.message_id);
  }
  return out;
}

}  // namespace smtpsd::message
