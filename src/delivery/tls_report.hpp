#pragma once
// TLS-RPT (RFC 8460): what delivery saw of each policy domain's TLS, counted
// per report window (a UTC day by default) and per policy, and the report a
// finished window becomes (JSON, gzip). The deliverer's one io_context
// thread records and takes reports; the book is saved to a file so a restart
// loses nothing (docs/operations.md, "TLS reports").
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace smtpsd::delivery {

// The policy a session was judged by (RFC 8460 §4.4 "policy").
struct tlsrpt_policy {
  std::string domain;                // the recipient domain
  std::string type;                  // "sts" or "tlsa"
  std::vector<std::string> strings;  // the policy's lines, or the TLSA records in presentation form
  std::vector<std::string> mx;       // the MX patterns of an sts policy
};

struct tlsrpt_failure {
  std::string result_type;  // "starttls-not-supported", "certificate-host-mismatch", "validation-failure", …
  std::string mx;           // receiving-mx-hostname
  std::string ip;           // receiving-ip
};

struct tlsrpt_counts {
  tlsrpt_policy policy;
  std::uint64_t success = 0;
  std::uint64_t failure = 0;
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> details;  // (type, mx, ip) -> count
};

// One domain's finished window.
struct tlsrpt_window {
  std::string domain;
  std::int64_t start = 0, end = 0;  // unix seconds, [start, end)
  std::vector<tlsrpt_counts> policies;
};

class tls_report_book {
 public:
  // period: the window length in seconds (86400: UTC days). state: the file
  // kept between runs ("" = memory only).
  tls_report_book(std::int64_t period, std::filesystem::path state);

  void success(const tlsrpt_policy& p, std::int64_t now);
  void failure(const tlsrpt_policy& p, const tlsrpt_failure& f, std::int64_t now);
  // The windows that ended at or before `now`, taken out of the book.
  std::vector<tlsrpt_window> take_finished(std::int64_t now);
  // The state to save when something changed since the last snapshot (else
  // nullopt), for write_state_file().
  std::optional<std::string> snapshot();
  const std::filesystem::path& state_file() const { return state_; }
  bool empty() const { return book_.empty(); }

 private:
  tlsrpt_counts& slot(const tlsrpt_policy& p, std::int64_t now);
  void load();

  std::int64_t period_;
  std::filesystem::path state_;
  bool dirty_ = false;
  // (window start, domain, policy key) -> counts
  std::map<std::tuple<std::int64_t, std::string, std::string>, tlsrpt_counts> book_;
};

// Replaces `file` with `text` through a temporary and a rename, so a crash
// leaves the old state or the new one (delivery's own state: the TLS-RPT
// counts, the MTA-STS cache). Blocking: call it on the worker pool.
bool write_state_file(const std::filesystem::path& file, const std::string& text);

// The report (RFC 8460 §4) as JSON text.
std::string tlsrpt_json(const tlsrpt_window& w, const std::string& organization, const std::string& contact,
                        const std::string& report_id);
// The report mail (§5.3): multipart/report; report-type="tlsrpt", the gzip
// JSON attached. CRLF line ends.
std::string tlsrpt_mail(const tlsrpt_window& w, const std::string& submitter, const std::string& from,
                        const std::string& to, const std::string& report_id, std::string_view gzipped,
                        std::string_view date);
// gzip (RFC 1952) of `data`, for application/tlsrpt+gzip.
std::string gzip(std::string_view data);

}  // namespace smtpsd::delivery
