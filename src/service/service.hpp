#pragma once
// The operator's operations (accounts, credentials, identities, suppression,
// queue, events, statistics, quota, tokens): the one layer both the CLI and
// the HTTP API call, so they do the same things and answer with the same
// JSON. No printing and no HTTP here; the CLI prints text from the JSON, the
// API sends it. Calls block (store, DNS): the API runs them on its worker pool.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

#include "base/clock.hpp"
#include "config/config.hpp"
#include "store/stores.hpp"

namespace smtpsd::service {

using json = nlohmann::json;

// What an operation refuses, and why, in words a person can act on. The kind
// becomes the HTTP status (400, 404, 409, 403) and the CLI's exit status 1.
class error : public std::runtime_error {
 public:
  enum class kind { invalid, not_found, conflict, forbidden };
  error(kind k, const std::string& what) : std::runtime_error(what), kind_(k) {}
  kind what_kind() const { return kind_; }

 private:
  kind kind_;
};

[[noreturn]] inline void invalid(const std::string& why) { throw error(error::kind::invalid, why); }
[[noreturn]] inline void not_found(const std::string& why) { throw error(error::kind::not_found, why); }
[[noreturn]] inline void conflict(const std::string& why) { throw error(error::kind::conflict, why); }

// What every operation works on.
struct env {
  const config::config& cfg;
  store::stores stores;
  const base::clock& clock;
};

// A time as JSON: RFC 3339, or null.
json time_json(const std::optional<base::time_point>& t);

}  // namespace smtpsd::service
