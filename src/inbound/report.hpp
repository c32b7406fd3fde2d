#pragma once
// Reports that come back to the return path (SPEC §9), read from the whole
// message as received: RFC 3464 delivery status notifications, RFC 5965
// feedback (ARF) reports, and the bounces that follow neither, read from their
// text (an enhanced status code, the addresses they name). MIME is walked to
// a bounded depth and number of parts; every value is cut to a bounded size;
// nothing in the input can make it throw or loop. Pure, fuzzed
// (fuzz/fuzz_report.cpp).
#include <string>
#include <string_view>
#include <vector>

namespace smtpsd::inbound {

enum class report_kind { unknown, dsn, arf, text_bounce };
std::string_view to_string(report_kind k);

struct report_recipient {
  std::string address;     // Final-Recipient, else Original-Recipient; for a text bounce, an address it names
  std::string action;      // failed, delayed, delivered, relayed, expanded
  std::string status;      // "5.1.1", or "" when none was given
  std::string diagnostic;  // "550 5.1.1 no such user"
  std::string remote_mta;
};

struct report {
  report_kind kind = report_kind::unknown;
  std::vector<report_recipient> recipients;
  // ARF (RFC 5965 §3.1).
  std::string feedback_type;  // abuse, fraud, virus, other, not-spam, auth-failure…
  std::string user_agent;
  std::string arrival_date;
  std::string source_ip;
  std::string original_mail_from;
  std::vector<std::string> original_rcpt_to;
  std::string reporting_mta;
  // The original message's header fields, where the report quotes them.
  std::string original_return_path;
  std::string original_message_id;
  std::string original_from;
  std::vector<std::string> original_to;
  // Every address the report names anywhere, first seen first, each once.
  std::vector<std::string> addresses;
  unsigned parts = 0;    // MIME entities walked
  bool limited = false;  // a limit cut the walk short
};

report parse_report(std::string_view message);

// Addresses in free text (local@domain.tld), each once, at most `max`.
std::vector<std::string> find_addresses(std::string_view text, std::size_t max = 100);

}  // namespace smtpsd::inbound
