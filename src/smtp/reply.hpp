#pragma once
// An SMTP reply: a three-digit code, an enhanced status code (RFC 3463) and
// one or more lines of text.
#include <string>
#include <string_view>
#include <vector>

namespace smtpsd::smtp {

struct reply {
  int code = 0;
  std::string enhanced;            // "5.7.8"; empty for the greeting and EHLO
  std::vector<std::string> lines;  // at least one

  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
  // "250-…\r\n250 …\r\n"
  void append_to(std::string& wire) const;
  std::string wire() const;
  // One line for logs and the queue's last_response: "550 5.7.1 text".
  std::string summary() const;
};

reply make_reply(int code, std::string_view enhanced, std::string_view text);

}  // namespace smtpsd::smtp
