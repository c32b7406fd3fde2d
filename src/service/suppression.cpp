#include "service/suppression.hpp"

#include <fmt/format.h>

#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "policy/identity.hpp"

namespace smtpsd::service {

namespace {
std::string require_address(const std::string& text) {
  auto a = policy::normalize_address(text);
  if (!a) invalid(fmt::format("\"{}\" is not an address such as bob@example.org", text));
  return *a;
}
}  // namespace

json suppression_json(const store::suppression_entry& e) {
  return {{"address", e.address}, {"reason", e.reason}, {"created", base::rfc3339(e.created)}};
}

json list_suppressions(env& e, const std::string& after, std::size_t limit, const std::string& search) {
  auto page = e.stores.suppressions->list(after, limit + 1, search);  // one more: is there a next page?
  const bool more = page.size() > limit;
  if (more) page.resize(limit);
  auto items = json::array();
  for (auto& s : page) items.push_back(suppression_json(s));
  return {{"items", std::move(items)},
          {"next", more ? json(page.back().address) : json(nullptr)},
          // Counting is a scan: the first page of the whole list carries the total; later pages and searches null.
          {"total", after.empty() && search.empty() ? json(e.stores.suppressions->count()) : json(nullptr)}};
}

json all_suppressions(env& e) {
  auto out = json::array();
  for (auto& s : e.stores.suppressions->list()) out.push_back(suppression_json(s));
  return out;
}

json show_suppression(env& e, const std::string& address) {
  auto a = require_address(address);
  auto found = e.stores.suppressions->find(a);
  if (!found) not_found(a + " is not on the suppression list");
  return suppression_json(*found);
}

json add_suppression(env& e, const std::string& address, const std::string& reason) {
  auto a = require_address(address);
  auto now = base::from_unix_seconds(base::unix_seconds(e.clock.now()));
  if (!e.stores.suppressions->add(a, reason.empty() ? "manual" : reason, now))
    conflict(a + " is already on the suppression list");
  return suppression_json(*e.stores.suppressions->find(a));
}

json remove_suppression(env& e, const std::string& address) {
  auto a = require_address(address);
  if (!e.stores.suppressions->remove(a)) not_found(a + " is not on the suppression list");
  return {{"removed", base::to_lower(a)}};
}

}  // namespace smtpsd::service
