#pragma once
// Delivery status notifications (RFC 3464): a multipart/report with a line
// for people, the machine-readable message/delivery-status part, and the
// original message's header section (text/rfc822-headers). Pure: every value
// it prints comes in through dsn_input.
#include <string>
#include <vector>

#include "base/clock.hpp"

namespace smtpsd::message {

struct dsn_recipient {
  std::string address;      // the final recipient
  std::string orcpt;        // "rfc822;bob@example.org" as given with ORCPT, or empty
  std::string action;       // "failed" or "delayed"
  std::string status;       // "5.1.1"
  std::string diagnostic;   // the remote reply, "550 5.1.1 no such user", or our reason
  std::string remote_mta;   // host name that answered, or empty
};

struct dsn_input {
  std::string reporting_mta;     // our host name
  std::string original_sender;   // envelope sender of the original (the DSN goes there)
  std::string envid;             // ENVID of the original, or empty
  std::string original_headers;  // header section of the original, CRLF lines, no blank line
  std::string queue_id;          // of the original
  std::string message_id;        // Message-ID for the DSN itself, with angle brackets
  std::string boundary;          // MIME boundary, unique per DSN
  base::time_point arrival{};
  base::time_point now{};
  std::vector<dsn_recipient> recipients;
};

// The whole DSN: header section, blank line, body; CRLF line ends, every
// line under 1000 octets, 7-bit (non-ASCII in remote replies is replaced).
std::string compose_dsn(const dsn_input& in);

// The status code a reply implies: its enhanced code, else one made from its
// class ("4.0.0" / "5.0.0").
std::string status_of(int code, const std::string& enhanced);

// A hard bounce: the mailbox does not exist or cannot take mail (5.1.x, 5.2.x),
// so the address goes on the suppression list.
bool hard_bounce(const std::string& status);

}  // namespace smtpsd::message
