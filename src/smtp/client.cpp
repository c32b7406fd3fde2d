#include "smtp/client.hpp"

#include <charconv>
#include <cstring>

#include "base/strings.hpp"

namespace smtpsd::smtp {

bool capabilities::has_auth(std::string_view mech) const {
  for (auto& a : auth)
    if (a == mech) return true;
  return false;
}

capabilities parse_ehlo(const reply& r) {
  capabilities c;
  for (std::size_t i = 1; i < r.lines.size(); ++i) {
    const auto& line = r.lines[i];
    c.keywords.push_back(line);
    auto upper = base::to_upper(line);
    std::string_view v(upper);
    auto sp = v.find(' ');
    auto key = v.substr(0, sp);
    auto rest = sp == std::string_view::npos ? std::string_view{} : v.substr(sp + 1);
    if (key == "STARTTLS") c.starttls = true;
    else if (key == "PIPELINING") c.pipelining = true;
    else if (key == "8BITMIME") c.eightbitmime = true;
    else if (key == "SMTPUTF8") c.smtputf8 = true;
    else if (key == "CHUNKING") c.chunking = true;
    else if (key == "DSN") c.dsn = true;
    else if (key == "REQUIRETLS") c.requiretls = true;
    else if (key == "SIZE") {
      std::uint64_t n = 0;
      auto t = base::trim(rest);
      if (t.empty() || std::from_chars(t.data(), t.data() + t.size(), n).ec == std::errc{}) c.size = n;
    } else if (key == "AUTH" || key.starts_with("AUTH=")) {
      auto list = key == "AUTH" ? rest : v.substr(5);
      for (auto m : base::split(list, ' '))
        if (!m.empty() && !c.has_auth(m)) c.auth.emplace_back(m);
    }
  }
  return c;
}

// Line by line with memchr: a '.' is added only where a line starts with one.
void dot_stuffer::encode(std::string_view in, std::string& out) {
  if (in.empty()) return;
  out.reserve(out.size() + in.size() + 8);
  const char* p = in.data();
  const char* const end = p + in.size();
  while (p < end) {
    if (line_start_ && *p == '.') out += '.';
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* stop = nl ? nl + 1 : end;
    out.append(p, static_cast<std::size_t>(stop - p));
    line_start_ = nl != nullptr;
    p = stop;
  }
  remember_end(in);
}

bool dot_stuffer::as_is(std::string_view in) {
  if (in.empty()) return true;
  if ((line_start_ && in.front() == '.') || in.find("\n.") != std::string_view::npos) return false;
  line_start_ = in.back() == '\n';
  remember_end(in);
  return true;
}

void dot_stuffer::remember_end(std::string_view in) {
  before_last_ = in.size() >= 2 ? in[in.size() - 2] : last_;
  last_ = in.back();
}

void dot_stuffer::finish(std::string& out) {
  if (!(before_last_ == '\r' && last_ == '\n')) out += "\r\n";
  out += ".\r\n";
  line_start_ = true;
  last_ = '\n';
  before_last_ = '\r';
}

std::string format_mail(std::string_view from, const mail_options& o, const capabilities& caps) {
  std::string s = "MAIL FROM:<";
  s.append(from).append(">");
  if (caps.size && o.size) s += " SIZE=" + std::to_string(o.size);
  if (o.eight_bit() && caps.eightbitmime) s += " BODY=8BITMIME";
  if (o.smtputf8 && caps.smtputf8) s += " SMTPUTF8";
  if (o.tls == base::tls_demand::required && caps.requiretls) s += " REQUIRETLS";
  if (caps.dsn) {
    if (o.ret != dsn_ret::unspecified) s.append(" RET=").append(to_string(o.ret));
    if (!o.envid.empty()) s += " ENVID=" + o.envid;
  }
  return s;
}

std::string format_rcpt(std::string_view to, dsn_notify notify, std::string_view orcpt, const capabilities& caps) {
  std::string s = "RCPT TO:<";
  s.append(to).append(">");
  if (caps.dsn) {
    if (notify.given()) s.append(" NOTIFY=").append(to_string(notify));
    if (!orcpt.empty()) s.append(" ORCPT=").append(orcpt);
  }
  return s;
}

}  // namespace smtpsd::smtp
