#include "message/compose.hpp"

#include <stdexcept>

#include "base/base64.hpp"
#include "base/strings.hpp"
#include "message/headers.hpp"

namespace smtpsd::message {

std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string guess_content_type(const std::string& filename) {
  static const std::pair<const char*, const char*> types[] = {
      {".txt", "text/plain"},       {".csv", "text/csv"},        {".html", "text/html"},        {".htm", "text/html"},
      {".pdf", "application/pdf"},  {".png", "image/png"},       {".jpg", "image/jpeg"},        {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},        {".zip", "application/zip"}, {".json", "application/json"}, {".xml", "application/xml"},
      {".ics", "text/calendar"},
  };
  const auto lower = base::to_lower(filename);
  for (auto& [ext, type] : types)
    if (lower.ends_with(ext)) return type;
  return "application/octet-stream";
}

namespace {

bool is_mime_field(std::string_view name) {
  return base::istarts_with(name, "Content-") || base::iequals(name, "MIME-Version");
}

std::string quote_filename(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    if (c != '\r' && c != '\n') out += c;
  }
  return out + "\"";
}

// RFC 2047: a subject with non-ASCII characters as one encoded word per chunk.
std::string encode_words(const std::string& text) {
  bool ascii = true;
  for (unsigned char c : text) ascii = ascii && c < 0x80;
  if (ascii) return text;
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = std::min<std::size_t>(45, text.size() - i);
    while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) --n;  // whole characters
    if (!out.empty()) out += ' ';
    out += "=?utf-8?b?" + base::base64_encode(std::string_view(text).substr(i, n)) + "?=";
    i += n;
  }
  return out;
}

}  // namespace

std::string compose(const compose_input& in) {
  std::string text = in.text.empty() ? std::string("\r\nSent with smtpsd send.\r\n") : to_crlf(in.text);
  // Split into the header section and the body.
  std::string head, body;
  if (text.starts_with("\r\n")) {
    body = text.substr(2);
  } else if (auto end = text.find("\r\n\r\n"); end != std::string::npos) {
    head = text.substr(0, end + 2);
    body = text.substr(end + 4);
  } else {
    head = text.ends_with("\r\n") ? text : text + "\r\n";
  }
  auto fields = parse_header_section(head);
  if (!fields) throw std::invalid_argument("the message's header section cannot be parsed");

  std::string added;
  auto lacks = [&](std::string_view name) { return find_field(*fields, name) == nullptr; };
  if (lacks("From")) added += fold_field("From", in.from);
  if (lacks("To") && !in.to.empty()) {
    std::string to;
    for (auto& t : in.to) to += (to.empty() ? "" : ", ") + t;
    added += fold_field("To", to);
  }
  if (lacks("Subject") && !in.subject.empty()) added += fold_field("Subject", encode_words(in.subject));
  if (lacks("Date")) added += "Date: " + in.date + "\r\n";
  if (lacks("Message-ID")) added += "Message-ID: " + in.message_id + "\r\n";

  if (in.attachments.empty()) return added + head + "\r\n" + body;

  // multipart/mixed: the original's MIME fields move into the first part.
  std::string outer, inner;
  for (auto& f : *fields) (is_mime_field(f.name) ? inner : outer) += std::string(f.raw);
  if (inner.empty()) inner = "Content-Type: text/plain; charset=utf-8\r\n";
  std::string out = added + outer;
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/mixed; boundary=\"" + in.boundary + "\"\r\n\r\n";
  out += "This is a multi-part message in MIME format.\r\n";
  out += "--" + in.boundary + "\r\n";
  const auto inner_fields = parse_header_section(inner);  // (a named optional: the fields point into it)
  if (inner_fields)
    for (auto& f : *inner_fields)
      if (!base::iequals(f.name, "MIME-Version")) out += std::string(f.raw);
  out += "\r\n" + body;
  if (!body.empty() && !body.ends_with("\r\n")) out += "\r\n";
  for (auto& a : in.attachments) {
    out += "--" + in.boundary + "\r\n";
    out += "Content-Type: " + a.content_type + "; name=" + quote_filename(a.filename) + "\r\n";
    out += "Content-Transfer-Encoding: base64\r\n";
    out += "Content-Disposition: attachment; filename=" + quote_filename(a.filename) + "\r\n\r\n";
    const auto b64 = base::base64_encode(a.data);
    for (std::size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\r\n";
  }
  out += "--" + in.boundary + "--\r\n";
  return out;
}

}  // namespace smtpsd::message
