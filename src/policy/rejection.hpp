#pragma once
// A refusal with its explanation: the reply the client gets, the rule that
// fired (the metrics label), and the detail for the log (counter and limit).
#include <string>

#include "smtp/reply.hpp"

namespace smtpsd::policy {

struct rejection {
  smtp::reply reply;
  std::string rule;
  std::string detail;
};

}  // namespace smtpsd::policy
