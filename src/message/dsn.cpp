#include "message/dsn.hpp"

#include "base/time_format.hpp"

namespace smtpsd::message {

namespace {

// Printable ASCII only, bounded: remote replies may carry anything.
std::string clean(std::string_view s, std::size_t max = 900) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : (c == '\t' ? ' ' : '?');
  }
  return out;
}

void line(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

// A header section copied line by line, every line bounded, CRLF only.
std::string bounded_lines(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    auto l = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.append(l.substr(0, 998)).append("\r\n");
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::string status_of(int code, const std::string& enhanced) {
  if (!enhanced.empty() && enhanced[0] == static_cast<char>('0' + code / 100)) return enhanced;
  return code >= 500 ? "5.0.0" : "4.0.0";
}

bool hard_bounce(const std::string& status) {
  return status.size() >= 3 && status[0] == '5' && status[1] == '.' && (status[2] == '1' || status[2] == '2');
}

std::string compose_dsn(const dsn_input& in) {
  bool failed = false;
  for (const auto& r : in.recipients) failed = failed || r.action == "failed";
  const std::string host = clean(in.reporting_mta, 255);

  std::string out;
  line(out, "From", "Mail Delivery System <MAILER-DAEMON@" + host + ">");
  line(out, "To", "<" + clean(in.original_sender, 320) + ">");
  line(out, "Subject", failed ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)");
  line(out, "Date", base::rfc5322_date(in.now));
  line(out, "Message-ID", in.message_id);
  line(out, "Auto-Submitted", "auto-replied");
  line(out, "MIME-Version", "1.0");
  line(out, "Content-Type", "multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + in.boundary + "\"");
  out += "\r\n";
  out += "This is a MIME-encapsulated message.\r\n\r\n";

  // 1. For people.
  out += "--" + in.boundary + "\r\n";
  out += "Content-Type: text/plain; charset=us-ascii\r\n";
  out += "Content-Description: Notification\r\n\r\n";
  out += "This is the mail system at " + host + ".\r\n\r\n";
  out += failed ? "Your message could not be delivered to one or more recipients.\r\nIt is attached below.\r\n\r\n"
                : "Your message has not been delivered yet to one or more recipients.\r\n"
                  "The mail system will keep trying; you need not send it again.\r\n\r\n";
  for (const auto& r : in.recipients) {
    out += "<" + clean(r.address, 320) + ">: " + clean(r.diagnostic) + "\r\n";
  }
  out += "\r\n";

  // 2. For machines (RFC 3464 §2.2, §2.3).
  out += "--" + in.boundary + "\r\n";
  out += "Content-Type: message/delivery-status\r\n";
  out += "Content-Description: Delivery report\r\n\r\n";
  line(out, "Reporting-MTA", "dns; " + host);
  line(out, "X-Smtpsd-Queue-ID", clean(in.queue_id, 64));
  if (!in.envid.empty()) line(out, "Original-Envelope-Id", clean(in.envid, 100));
  line(out, "Arrival-Date", base::rfc5322_date(in.arrival));
  for (const auto& r : in.recipients) {
    out += "\r\n";
    if (!r.orcpt.empty()) line(out, "Original-Recipient", clean(r.orcpt, 500));
    line(out, "Final-Recipient", "rfc822; " + clean(r.address, 320));
    line(out, "Action", r.action);
    line(out, "Status", clean(r.status, 16));
    if (!r.remote_mta.empty()) line(out, "Remote-MTA", "dns; " + clean(r.remote_mta, 255));
    line(out, "Diagnostic-Code", "smtp; " + clean(r.diagnostic));
    line(out, "Last-Attempt-Date", base::rfc5322_date(in.now));
  }
  out += "\r\n";

  // 3. The original's header section.
  out += "--" + in.boundary + "\r\n";
  out += "Content-Type: text/rfc822-headers\r\n";
  out += "Content-Description: Undelivered Message Headers\r\n\r\n";
  out += bounded_lines(in.original_headers);
  out += "\r\n--" + in.boundary + "--\r\n";
  return out;
}

}  // namespace smtpsd::message
