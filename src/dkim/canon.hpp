#pragma once
// DKIM relaxed canonicalisation (RFC 6376 §3.4.2, §3.4.4). The body side
// streams: content goes in as it arrives, so a 40 MB body is never held.
#include <functional>
#include <string>
#include <string_view>

namespace smtpsd::dkim {

// "Subject:  Hello \r\n\tworld \r\n" -> "subject:Hello world\r\n"
std::string relaxed_header(std::string_view name, std::string_view value);

class relaxed_body {
 public:
  // Canonical octets go to `out` as they become final.
  explicit relaxed_body(std::function<void(std::string_view)> out) : out_(std::move(out)) {}
  void update(std::string_view content);
  void finish();  // a last line without CRLF gets one; empty lines at the end are dropped

 private:
  void end_line();
  void update_bytes(std::string_view content);
  void content_cr();
  std::function<void(std::string_view)> out_;
  std::string line_;
  bool wsp_ = false;
  bool cr_ = false;
  std::size_t blank_lines_ = 0;
};

}  // namespace smtpsd::dkim
