#include "delivery/tls_report.hpp"

#include <zlib.h>

#include <ctime>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/base64.hpp"
#include "base/log.hpp"

namespace smtpsd::delivery {

namespace {

std::string policy_key(const tlsrpt_policy& p) {
  std::string k = p.type;
  for (const auto& s : p.strings) k += "\n" + s;
  return k;
}

std::string utc(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json policy_json(const tlsrpt_policy& p) {
  nlohmann::json j = {{"policy-type", p.type}, {"policy-string", p.strings}, {"policy-domain", p.domain}};
  if (!p.mx.empty()) j["mx-host"] = p.mx;
  return j;
}

}  // namespace

tls_report_book::tls_report_book(std::int64_t period, std::filesystem::path state)
    : period_(period > 0 ? period : 86400), state_(std::move(state)) {
  load();
}

tlsrpt_counts& tls_report_book::slot(const tlsrpt_policy& p, std::int64_t now) {
  const std::int64_t start = now - now % period_;
  auto& c = book_[{start, p.domain, policy_key(p)}];
  if (c.policy.type.empty()) c.policy = p;
  dirty_ = true;
  return c;
}

void tls_report_book::success(const tlsrpt_policy& p, std::int64_t now) { ++slot(p, now).success; }

void tls_report_book::failure(const tlsrpt_policy& p, const tlsrpt_failure& f, std::int64_t now) {
  auto& c = slot(p, now);
  ++c.failure;
  if (c.details.size() < 1000) ++c.details[{f.result_type, f.mx, f.ip}];
}

std::vector<tlsrpt_window> tls_report_book::take_finished(std::int64_t now) {
  std::vector<tlsrpt_window> out;
  for (auto it = book_.begin(); it != book_.end();) {
    const auto& [start, domain, key] = it->first;
    if (start + period_ > now) {
      ++it;
      continue;
    }
    if (out.empty() || out.back().domain != domain || out.back().start != start)
      out.push_back(tlsrpt_window{domain, start, start + period_, {}});
    out.back().policies.push_back(std::move(it->second));
    it = book_.erase(it);
    dirty_ = true;
  }
  return out;
}

std::optional<std::string> tls_report_book::snapshot() {
  if (!dirty_ || state_.empty()) return std::nullopt;
  dirty_ = false;
  auto all = nlohmann::json::array();
  for (const auto& [k, c] : book_) {
    auto details = nlohmann::json::array();
    for (const auto& [d, n] : c.details) details.push_back({std::get<0>(d), std::get<1>(d), std::get<2>(d), n});
    all.push_back({{"start", std::get<0>(k)},
                   {"domain", c.policy.domain},
                   {"type", c.policy.type},
                   {"strings", c.policy.strings},
                   {"mx", c.policy.mx},
                   {"success", c.success},
                   {"failure", c.failure},
                   {"details", details}});
  }
  return all.dump();
}

bool write_state_file(const std::filesystem::path& file, const std::string& text) {
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  return !ec;
}

void tls_report_book::load() {
  if (state_.empty()) return;
  std::ifstream in(state_);
  if (!in) return;
  try {
    for (const auto& e : nlohmann::json::parse(in)) {
      tlsrpt_policy p{e.at("domain").get<std::string>(), e.at("type").get<std::string>(),
                      e.at("strings").get<std::vector<std::string>>(), e.at("mx").get<std::vector<std::string>>()};
      auto& c = book_[{e.at("start").get<std::int64_t>(), p.domain, policy_key(p)}];
      c.policy = p;
      c.success += e.at("success").get<std::uint64_t>();
      c.failure += e.at("failure").get<std::uint64_t>();
      for (const auto& d : e.at("details"))
        c.details[{d.at(0).get<std::string>(), d.at(1).get<std::string>(), d.at(2).get<std::string>()}] +=
            d.at(3).get<std::uint64_t>();
    }
  } catch (const std::exception& e) {
    base::logger("delivery")->warn("{}: unreadable TLS report state, starting empty ({})", state_.string(), e.what());
    book_.clear();
  }
}

std::string tlsrpt_json(const tlsrpt_window& w, const std::string& organization, const std::string& contact,
                        const std::string& report_id) {
  auto policies = nlohmann::json::array();
  for (const auto& c : w.policies) {
    auto details = nlohmann::json::array();
    for (const auto& [d, n] : c.details) {
      nlohmann::json f = {{"result-type", std::get<0>(d)}, {"failed-session-count", n}};
      if (!std::get<1>(d).empty()) f["receiving-mx-hostname"] = std::get<1>(d);
      if (!std::get<2>(d).empty()) f["receiving-ip"] = std::get<2>(d);
      details.push_back(std::move(f));
    }
    nlohmann::json p = {{"policy", policy_json(c.policy)},
                        {"summary",
                         {{"total-successful-session-count", c.success}, {"total-failure-session-count", c.failure}}}};
    if (!details.empty()) p["failure-details"] = std::move(details);
    policies.push_back(std::move(p));
  }
  nlohmann::json j = {{"organization-name", organization},
                      {"date-range", {{"start-datetime", utc(w.start)}, {"end-datetime", utc(w.end - 1)}}},
                      {"contact-info", contact},
                      {"report-id", report_id},
                      {"policies", std::move(policies)}};
  return j.dump();
}

std::string tlsrpt_mail(const tlsrpt_window& w, const std::string& submitter, const std::string& from,
                        const std::string& to, const std::string& report_id, std::string_view gzipped,
                        std::string_view date) {
  const std::string boundary = "tlsrpt-" + report_id;
  std::string m;
  m += "From: " + from + "\r\n";
  m += "To: " + to + "\r\n";
  m += fmt::format("Subject: Report Domain: {} Submitter: {} Report-ID: <{}>\r\n", w.domain, submitter, report_id);
  m += fmt::format("Date: {}\r\n", date);
  m += fmt::format("Message-ID: <{}@{}>\r\n", report_id, submitter);
  m += "TLS-Report-Domain: " + w.domain + "\r\n";
  m += "TLS-Report-Submitter: " + submitter + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += fmt::format("Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"{}\"\r\n\r\n", boundary);
  m += fmt::format("--{}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
  m += fmt::format("This is an aggregate TLS report (RFC 8460) from {} for {}.\r\n\r\n", submitter, w.domain);
  m += fmt::format("--{}\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n", boundary);
  m += fmt::format("Content-Disposition: attachment; filename=\"{}!{}!{}!{}.json.gz\"\r\n\r\n", submitter, w.domain,
                   w.start, w.end - 1);
  const auto b64 = base::base64_encode(gzipped);
  for (std::size_t i = 0; i < b64.size(); i += 76) m += b64.substr(i, 76) + "\r\n";
  m += fmt::format("\r\n--{}--\r\n", boundary);
  return m;
}

std::string gzip(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string{};
}

}  // namespace smtpsd::delivery
