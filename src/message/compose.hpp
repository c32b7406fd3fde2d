#pragma once
// Builds the message `smtpsd send` submits: the user's RFC 5322 text with
// LF line ends made CRLF, the fields it lacks (From, To, Subject, Date,
// Message-ID) added from the options, and attachments turned into a
// multipart/mixed message. Pure: the caller passes the date and ids.
#include <string>
#include <vector>

namespace smtpsd::message {

struct attachment {
  std::string filename;  // as shown to the recipient (no folders)
  std::string content_type;
  std::string data;
};

struct compose_input {
  std::string text;  // a whole message, or empty for a short default one
  std::string from;
  std::vector<std::string> to;
  std::string subject;
  std::string date;        // RFC 5322 date-time
  std::string message_id;  // with angle brackets
  std::string boundary;    // unique
  std::vector<attachment> attachments;
};

// Throws std::invalid_argument when `text` has no parseable header section.
std::string compose(const compose_input& in);

// A content type from a file name's extension; application/octet-stream otherwise.
std::string guess_content_type(const std::string& filename);

// CRLF everywhere: lone LF and lone CR become CRLF.
std::string to_crlf(std::string_view text);

}  // namespace smtpsd::message
