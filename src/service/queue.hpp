#pragma once
// The outbound queue: list (filtered, paged), show, retry, remove.
#include <string>

#include "service/service.hpp"

namespace smtpsd::service {

// {"id", "account", "from", "size", "created", "message_id", "configuration_set", "tags",
//  "recipients": [{"address", "status", "attempts", "next_attempt", "last_response"}]}
json message_json(const store::queued_message& m);
// A page: {"items": [...], "next": cursor or null}; status is queued,
// deferred, delivered or failed; recipient an address.
json list_queue(env& e, const std::string& after, std::size_t limit, const std::string& account,
                const std::string& status, const std::string& recipient);
json all_queue(env& e);  // every message, an array (the CLI)
json show_message(env& e, const std::string& id);
// The message as it will leave: header section, blank line, body.
std::string message_content(env& e, const std::string& id);
// {"recipients": N made due}; id "" = every message
json retry_queue(env& e, const std::string& id);
json remove_message(env& e, const std::string& id);
// {"messages": N}
json queue_size(env& e);

}  // namespace smtpsd::service
