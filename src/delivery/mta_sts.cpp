#include "delivery/mta_sts.hpp"

#include <algorithm>
#include <cctype>

#include "base/strings.hpp"

namespace smtpsd::delivery {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "k1=v1; k2=v2" fields of a TXT record (RFC 8461 §3.1, RFC 8460 §3).
std::vector<std::pair<std::string_view, std::string_view>> fields(std::string_view rec) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  while (!rec.empty()) {
    auto semi = rec.find(';');
    auto f = trim(rec.substr(0, semi));
    rec = semi == std::string_view::npos ? std::string_view{} : rec.substr(semi + 1);
    if (f.empty()) continue;
    auto eq = f.find('=');
    if (eq == std::string_view::npos) return {};  // not this format
    out.emplace_back(trim(f.substr(0, eq)), trim(f.substr(eq + 1)));
  }
  return out;
}

bool valid_id(std::string_view id) {
  return !id.empty() && id.size() <= 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
}

// A pattern: a host name, or "*." and a host name; labels of letters, digits and hyphens.
bool valid_pattern(std::string_view p) {
  if (p.starts_with("*.")) p.remove_prefix(2);
  if (p.empty() || p.size() > 253) return false;
  for (char c : p)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  return p.find("..") == std::string_view::npos && p.front() != '.';
}

}  // namespace

std::optional<std::string> sts_record_id(const std::vector<std::string>& txt) {
  std::optional<std::string> id;
  int found = 0;
  for (const auto& rec : txt) {
    if (!rec.starts_with("v=STSv1")) continue;
    ++found;
    auto fs = fields(rec);
    if (fs.empty() || fs.front().first != "v" || fs.front().second != "STSv1") continue;
    for (auto& [k, v] : fs)
      if (k == "id" && valid_id(v)) id = std::string(v);
  }
  if (found != 1) return std::nullopt;  // none, or ambiguous: no policy (§3.1)
  return id;
}

std::string_view to_string(sts_policy::mode m) {
  switch (m) {
    case sts_policy::mode::enforce: return "enforce";
    case sts_policy::mode::testing: return "testing";
    case sts_policy::mode::none: return "none";
  }
  return "none";
}

std::optional<sts_policy::mode> sts_mode(std::string_view s) {
  if (s == "enforce") return sts_policy::mode::enforce;
  if (s == "testing") return sts_policy::mode::testing;
  if (s == "none") return sts_policy::mode::none;
  return std::nullopt;
}

std::optional<sts_policy> parse_sts_policy(std::string_view text, std::string* why) {
  auto fail = [why](std::string w) -> std::optional<sts_policy> {
    if (why) *why = std::move(w);
    return std::nullopt;
  };
  sts_policy p;
  bool version = false, mode = false, age = false;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return fail("a line without \"key: value\"");
    auto key = trim(line.substr(0, colon));
    auto value = trim(line.substr(colon + 1));
    if (key == "version") {
      if (value != "STSv1") return fail("version is not STSv1");
      version = true;
    } else if (key == "mode") {
      auto m = sts_mode(value);
      if (!m) return fail("unknown mode");
      p.how = *m;
      mode = true;
    } else if (key == "max_age") {
      if (value.empty() || value.size() > 10 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail("max_age is not a number");
      p.max_age = std::min<std::uint64_t>(std::stoull(std::string(value)), 31557600);
      age = true;
    } else if (key == "mx") {
      auto pattern = base::to_lower(std::string(value));
      if (!pattern.empty() && pattern.back() == '.') pattern.pop_back();
      if (!valid_pattern(pattern)) return fail("an mx pattern is not a host name");
      if (p.mx.size() < 100) p.mx.push_back(std::move(pattern));
    }  // other keys are extensions: ignored (§3.2)
  }
  if (!version) return fail("no version");
  if (!mode) return fail("no mode");
  if (!age) return fail("no max_age");
  if (p.mx.empty() && p.how != sts_policy::mode::none) return fail("no mx");
  return p;
}

bool sts_mx_matches(const sts_policy& p, std::string_view host) {
  auto h = base::to_lower(std::string(host));
  if (!h.empty() && h.back() == '.') h.pop_back();
  for (const auto& pat : p.mx) {
    if (pat.starts_with("*.")) {
      auto dot = h.find('.');
      if (dot != std::string::npos && dot > 0 && std::string_view(h).substr(dot + 1) == std::string_view(pat).substr(2))
        return true;
    } else if (h == pat) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> tlsrpt_rua(const std::vector<std::string>& txt) {
  std::vector<std::string> out;
  for (const auto& rec : txt) {
    auto fs = fields(rec);
    if (fs.empty() || fs.front().first != "v" || fs.front().second != "TLSRPTv1") continue;
    for (auto& [k, v] : fs) {
      if (k != "rua") continue;
      std::string_view list = v;
      while (!list.empty()) {
        auto comma = list.find(',');
        auto u = trim(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (u.starts_with("mailto:") || u.starts_with("https://")) out.emplace_back(u);
      }
    }
    break;  // the first TLSRPTv1 record only
  }
  return out;
}

}  // namespace smtpsd::delivery
