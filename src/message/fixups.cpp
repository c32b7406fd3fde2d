#include "message/fixups.hpp"

#include <fmt/format.h>

#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "message/headers.hpp"
#include "message/ses_headers.hpp"

namespace smtpsd::message {

void append_received_field(std::string& out, const trace_info& t) {
  out += "Received: from ";
  for (char c : t.helo) out += (c == ';' || c == '(' || c == ')' || c == '\r' || c == '\n') ? '_' : c;
  out += " ([";
  out += t.client_ip;
  out += "])\r\n\tby ";
  out += t.hostname;
  // RFC 3848 protocol names: ESMTP + S (TLS) + A (authenticated).
  out += " (smtpsd) with ";
  out += t.esmtp ? "ESMTP" : "SMTP";
  if (!t.tls_version.empty()) out += 'S';
  if (t.authenticated) out += 'A';
  out += " id ";
  out += t.queue_id;
  if (!t.tls_version.empty()) {
    out += "\r\n\t(using ";
    out += t.tls_version;
    out += " with cipher ";
    out += t.tls_cipher;
    out += ')';
  }
  out += ";\r\n\t";
  out += base::rfc5322_date(t.now);
  out += "\r\n";
}

std::optional<fixed_headers> apply_submission_fixups(std::string_view section, const trace_info& t) {
  auto fields = parse_header_section(section);
  if (!fields) return std::nullopt;
  return apply_submission_fixups(section, *fields, t);
}

fixed_headers apply_submission_fixups(std::string_view section, const std::vector<header_field>& fields,
                                      const trace_info& t) {
  fixed_headers out;
  out.section.reserve(section.size() + 512);
  append_received_field(out.section, t);
  for (auto& f : fields) {
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
  if (!find_field(fields, "Date")) {
    out.section += "Date: ";
    out.section += base::rfc5322_date(t.now);
    out.section += "\r\n";
  }
  if (auto* mid = find_field(fields, "Message-ID")) {
    out.message_id = unfold(mid->value);
  } else {
    out.message_id = fmt::format("<{}@{}>", t.queue_id, t.hostname);
    out.section += "Message-ID: ";
    out.section += out.message_id;
    out.section += "\r\n";
  }
  return out;
}

}  // namespace smtpsd::message
