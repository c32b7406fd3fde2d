#include "base/url.hpp"

#include <boost/url/parse.hpp>

#include <fmt/format.h>

namespace smtpsd::base {

std::string http_url::origin() const { return fmt::format("{}://{}:{}", https ? "https" : "http", host, port); }

std::optional<http_url> parse_http_url(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return std::nullopt;
  const auto& u = *parsed;
  http_url out;
  const auto scheme = u.scheme_id();
  if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https) return std::nullopt;
  out.https = scheme == boost::urls::scheme::https;
  out.host = u.encoded_host_address();
  if (out.host.empty() || u.has_userinfo()) return std::nullopt;
  if (out.host.size() > 2 && out.host.front() == '[') out.host = out.host.substr(1, out.host.size() - 2);
  if (u.has_port()) {
    if (u.port_number() == 0) return std::nullopt;
    out.port = u.port_number();
  } else {
    out.port = out.https ? 443 : 80;
  }
  out.target = std::string(u.encoded_path());
  if (out.target.empty()) out.target = "/";
  if (u.has_query()) out.target += "?" + std::string(u.encoded_query());
  return out;
}

}  // namespace smtpsd::base
