#pragma once
// The suppression list: addresses never sent to.
#include <string>

#include "service/service.hpp"

namespace smtpsd::service {

json suppression_json(const store::suppression_entry& e);  // {"address", "reason", "created"}
// A page: {"items": [...], "next": cursor or null, "total"}; `search` is a prefix.
json list_suppressions(env& e, const std::string& after, std::size_t limit, const std::string& search);
json all_suppressions(env& e);  // every entry, an array (the CLI)
json show_suppression(env& e, const std::string& address);
json add_suppression(env& e, const std::string& address, const std::string& reason);
json remove_suppression(env& e, const std::string& address);

}  // namespace smtpsd::service
