#pragma once
// The pure parts of an SMTP client: what an EHLO reply offers, and the
// dot-stuffing of DATA content (RFC 5321 §4.5.2) with the final CRLF.CRLF.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/params.hpp"
#include "smtp/reply.hpp"

namespace smtpsd::smtp {

struct capabilities {
  bool starttls = false;
  bool pipelining = false;
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool chunking = false;
  bool dsn = false;
  bool requiretls = false;
  std::optional<std::uint64_t> size;  // SIZE's value; 0 = no fixed limit
  std::vector<std::string> auth;      // upper case mechanism names
  std::vector<std::string> keywords;  // every extension line, as sent
  bool has_auth(std::string_view mech) const;
};

// From a positive EHLO reply (its first line is the greeting, not a keyword).
capabilities parse_ehlo(const reply& r);

// Dot-stuffs content chunk by chunk; finish() ends the data (adding a CRLF
// if the content did not end with one).
class dot_stuffer {
 public:
  void encode(std::string_view in, std::string& out);
  // True when `in` goes out as it is (no line in it starts with '.', which
  // is most mail): then it counts as encoded and need not be copied. False:
  // nothing happened, encode() it.
  bool as_is(std::string_view in);
  void finish(std::string& out);

 private:
  void remember_end(std::string_view in);  // the last two octets sent, for finish()

  bool line_start_ = true;
  char last_ = '\n';
  char before_last_ = '\r';
};

// "MAIL FROM:<a@b> SIZE=123 BODY=8BITMIME" etc.: ESMTP parameters a client
// may add, each only when the server offers its extension. The same typed
// values the message was submitted with.
struct mail_options {
  std::uint64_t size = 0;
  body_type body = body_type::unspecified;
  bool smtputf8 = false;
  dsn_ret ret = dsn_ret::unspecified;
  std::string envid;  // xtext or empty
  base::tls_demand tls = base::tls_demand::policy;  // REQUIRETLS goes on MAIL when required and offered
  bool eight_bit() const { return body == body_type::eight_bit_mime || body == body_type::binary_mime; }
};
std::string format_mail(std::string_view from, const mail_options& o, const capabilities& caps);
std::string format_rcpt(std::string_view to, dsn_notify notify, std::string_view orcpt, const capabilities& caps);

}  // namespace smtpsd::smtp
