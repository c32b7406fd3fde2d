#pragma once
// One mail transaction on a connected, greeted client (Postfix's smtp_proto):
// MAIL and RCPT (pipelined when offered, RFC 2920), then DATA with
// dot-stuffing or BDAT chunks (RFC 3030), and the remote's verdict per
// recipient. It never retries and never opens connections.
#include <vector>

#include "delivery/deliverer.hpp"
#include "delivery/outcome.hpp"
#include "delivery/smtp_client.hpp"

namespace smtpsd::delivery {

struct transaction_result {
  std::vector<outcome> outcomes;  // one per job recipient, in order
  bool reusable = false;          // the connection is ready for another transaction
  bool retry_fresh = false;       // nothing was accepted before the connection died: a
                                  // reused connection that had gone stale; try a new one
};

net::awaitable<transaction_result> run_transaction(smtp_client& c, const job& j);

}  // namespace smtpsd::delivery
