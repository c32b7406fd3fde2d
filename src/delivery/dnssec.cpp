#include "delivery/dnssec.hpp"

#include <unbound.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "base/log.hpp"
#include "base/metrics.hpp"

namespace smtpsd::delivery {

namespace {
constexpr int type_tlsa = 52;
constexpr int type_dnskey = 48;
constexpr int class_in = 1;

// Owner names of the DS/DNSKEY records in a trust-anchor file (zone-file syntax).
std::vector<std::string> anchor_owners(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file + ": cannot read the DNSSEC trust anchor");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ';' || std::isspace(static_cast<unsigned char>(line[0]))) continue;
    std::istringstream words(line);
    std::string owner, w;
    words >> owner;
    bool anchor = false;
    while (words >> w)
      if (w == "DS" || w == "DNSKEY") anchor = true;
    if (anchor && std::find(out.begin(), out.end(), owner) == out.end()) out.push_back(owner);
  }
  if (out.empty()) throw std::runtime_error(file + ": no DS or DNSKEY record in the DNSSEC trust anchor");
  return out;
}
}  // namespace

std::string_view to_string(dnssec d) {
  switch (d) {
    case dnssec::secure: return "secure";
    case dnssec::insecure: return "insecure";
    case dnssec::bogus: return "bogus";
    case dnssec::failed: return "failed";
  }
  return "failed";
}

struct dnssec_resolver::answer {
  int err = 0;
  int rcode = 0;
  bool secure = false, bogus = false, havedata = false, nxdomain = false;
  std::string why_bogus;
  std::vector<std::string> rdata;
};

dnssec_resolver::dnssec_resolver(const std::vector<base::host_port>& upstreams, const std::string& trust_anchor_file)
    : anchors_(anchor_owners(trust_anchor_file)) {
  ctx_ = ub_ctx_create();
  if (!ctx_) throw std::runtime_error("libunbound: cannot create a context");
  auto fail = [this](const std::string& what, int rc) {
    std::string m = what + ": " + ub_strerror(rc);
    ub_ctx_delete(ctx_);
    ctx_ = nullptr;
    throw std::runtime_error(m);
  };
  // Upstreams on loopback are what tests and local caches use.
  ub_ctx_set_option(ctx_, "do-not-query-localhost:", "no");
  // unbound answers names under test. itself (RFC 6761, NXDOMAIN); the
  // c-ares lookups ask the resolvers, so this asks them too.
  ub_ctx_set_option(ctx_, "local-zone:", "test. transparent");
  if (int rc = ub_ctx_add_ta_file(ctx_, trust_anchor_file.c_str())) fail(trust_anchor_file + ": trust anchor", rc);
  if (upstreams.empty()) {
    if (int rc = ub_ctx_resolvconf(ctx_, nullptr)) fail("/etc/resolv.conf", rc);
  } else {
    for (const auto& u : upstreams) {
      const std::string at = u.host + "@" + std::to_string(u.port);
      if (int rc = ub_ctx_set_fwd(ctx_, at.c_str())) fail("resolver " + at, rc);
    }
  }
}

dnssec_resolver::~dnssec_resolver() {
  if (ctx_) ub_ctx_delete(ctx_);
}

dnssec_resolver::answer dnssec_resolver::query(const std::string& name, int type) const {
  answer a;
  ub_result* r = nullptr;
  a.err = ub_resolve(ctx_, name.c_str(), type, class_in, &r);
  if (a.err || !r) {
    if (r) ub_resolve_free(r);
    if (!a.err) a.err = UB_NOMEM;
    return a;
  }
  a.rcode = r->rcode;
  a.secure = r->secure;
  a.bogus = r->bogus;
  a.havedata = r->havedata;
  a.nxdomain = r->nxdomain;
  if (r->why_bogus) a.why_bogus = r->why_bogus;
  for (int i = 0; r->havedata && r->data[i]; ++i) a.rdata.emplace_back(r->data[i], static_cast<std::size_t>(r->len[i]));
  ub_resolve_free(r);
  return a;
}

bool dnssec_resolver::validating() const {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard l(mu_);
    if (checked_ != std::chrono::steady_clock::time_point{} && now - checked_ < std::chrono::seconds(60))
      return validating_;
  }
  bool ok = false;
  for (const auto& owner : anchors_) {
    auto a = query(owner, type_dnskey);
    if (!a.err && a.secure && a.havedata) ok = true;
  }
  std::lock_guard l(mu_);
  checked_ = now;
  validating_ = ok;
  return ok;
}

dnssec dnssec_resolver::judge(const answer& a, std::string* why) const {
  if (a.err) {
    if (why) *why = ub_strerror(a.err);
    return dnssec::failed;
  }
  if (a.secure) return dnssec::secure;
  if (a.bogus) {
    if (validating()) {
      if (why) *why = a.why_bogus.empty() ? "DNSSEC validation failed" : a.why_bogus;
      return dnssec::bogus;
    }
    static auto& unavailable = base::metrics().get_counter(
        "smtpsd_dnssec_unavailable_total",
        "Answers taken as insecure because the DNSSEC trust anchor does not validate through the resolvers");
    unavailable.inc();
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard l(mu_);
    if (now - warned_ > std::chrono::minutes(1)) {
      warned_ = now;
      base::logger("delivery")->warn(
          "DNSSEC: the trust anchor does not validate through the resolvers; DANE is off until it does ({})",
          a.why_bogus);
    }
    return dnssec::insecure;
  }
  // SERVFAIL without a validation failure: no answer at all.
  if (a.rcode == 2) {
    if (why) *why = "SERVFAIL";
    return dnssec::failed;
  }
  return dnssec::insecure;
}

dnssec dnssec_resolver::security(const std::string& name, int type, std::string* why) const {
  return judge(query(name, type), why);
}

tlsa_answer dnssec_resolver::tlsa(const std::string& host, std::uint16_t port) const {
  tlsa_answer out;
  auto a = query("_" + std::to_string(port) + "._tcp." + host, type_tlsa);
  out.security = judge(a, &out.why);
  if (out.security != dnssec::secure) return out;
  for (const auto& d : a.rdata) {
    if (d.size() < 3) continue;  // malformed: not a record anyone can use
    net::tlsa_record r;
    r.usage = static_cast<std::uint8_t>(d[0]);
    r.selector = static_cast<std::uint8_t>(d[1]);
    r.mtype = static_cast<std::uint8_t>(d[2]);
    r.data = d.substr(3);
    out.records.push_back(std::move(r));
  }
  return out;
}

}  // namespace smtpsd::delivery
