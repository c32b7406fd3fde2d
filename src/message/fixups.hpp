#pragma once
// The submission fix-ups of RFC 6409 §8: a Received: trace field, Date: and
// Message-ID: where missing; Bcc: removed; and SES's X-SES-CONFIGURATION-SET
// and X-SES-MESSAGE-TAGS taken out (their values kept for the events).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "message/headers.hpp"

namespace smtpsd::message {

struct trace_info {
  std::string_view hostname;     // ours
  std::string_view helo;         // the client's EHLO name
  std::string_view client_ip;
  std::string_view queue_id;
  std::string_view tls_version;  // "TLSv1.3", empty without TLS
  std::string_view tls_cipher;
  bool esmtp = true;
  bool authenticated = true;
  base::time_point now;
};

struct fixed_headers {
  std::string section;     // the new header section, each field ending in CRLF
  std::string message_id;  // the Message-ID field's value, as it leaves
  // SES's event-publishing fields, taken out of the section (unfolded values).
  std::optional<std::string> configuration_set;
  std::optional<std::string> message_tags;
  bool tls_required_no = false;  // a `TLS-Required: No` field (RFC 8689 §5), kept in the section
};

// nullopt when the header section cannot be parsed.
std::optional<fixed_headers> apply_submission_fixups(std::string_view section, const trace_info& t);
// The same for a section already parsed (`fields`: parse_header_section's).
fixed_headers apply_submission_fixups(std::string_view section, const std::vector<header_field>& fields,
                                      const trace_info& t);

void append_received_field(std::string& out, const trace_info& t);

}  // namespace smtpsd::message
