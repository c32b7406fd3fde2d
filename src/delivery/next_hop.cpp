#include "delivery/next_hop.hpp"

#include "base/strings.hpp"
#include "smtp/address.hpp"

namespace smtpsd::delivery {

router::router(route_settings s) : s_(std::move(s)) {
  // Route keys in the form route() looks them up in: A-labels (a route may
  // name bücher.example or xn--bcher-kva.example).
  std::map<std::string, base::host_port> routes;
  std::map<std::string, std::string> tls;
  for (auto& [domain, to] : s_.routes) {
    const auto key = smtp::ascii_domain(domain).value_or(base::to_lower(domain));
    routes[key] = to;
    if (auto t = s_.route_tls.find(domain); t != s_.route_tls.end()) tls[key] = t->second;
  }
  s_.routes = std::move(routes);
  s_.route_tls = std::move(tls);
}

next_hop router::route(std::string_view domain) const {
  using kind = next_hop::kind;
  if (s_.smarthost) return {"smarthost", kind::smarthost, s_.smarthost->host, s_.smarthost->port, {}};
  // DNS knows an internationalised domain by its A-labels (RFC 5890).
  const auto dns_name = smtp::ascii_domain(domain).value_or(base::to_lower(domain));
  auto it = s_.routes.find(dns_name);
  if (it == s_.routes.end()) it = s_.routes.find("*");
  if (it != s_.routes.end()) {
    next_hop h{"route:" + it->second.to_string(), kind::host, it->second.host, it->second.port, {}};
    if (auto t = s_.route_tls.find(it->first); t != s_.route_tls.end()) {
      h.tls = t->second;
      h.key += "/" + h.tls;  // a different TLS rule is a different destination
    }
    return h;
  }
  // An address literal names the host itself: no MX lookup (RFC 5321 §5.1).
  if (auto ip = smtp::literal_address(domain)) return {"literal:" + *ip, kind::host, *ip, s_.mx_port, {}};
  return {"mx:" + dns_name, kind::mx, dns_name, s_.mx_port, {}};
}

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string{} : base::to_lower(address.substr(at + 1));
}

}  // namespace smtpsd::delivery
