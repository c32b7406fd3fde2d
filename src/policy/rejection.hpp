#pragma once
// A refusal with its explanation: the reply the client gets, the rule that
// fired (the metrics label), and the detail for the log (counter and limit).
#include <exception>
#include <string>

#include "smtp/reply.hpp"

namespace smtpsd::policy {

struct rejection {
  smtp::reply reply;
  std::string rule;
  std::string detail;
};

// The one mapping of a storage failure to its reply: a full disk (or
// database) is 452 4.3.1 (rule "storage_full"), anything else 451 4.3.0
// (rule "storage"); the detail is the error's text, for the log.
rejection storage_failure(const std::exception& e);

}  // namespace smtpsd::policy
