#pragma once
// Identities: the domains and addresses an account may send as, the DNS
// records to publish for them (DKIM, SPF, DMARC), their verification and
// DKIM key rotation.
#include <string>

#include "service/service.hpp"

namespace smtpsd::service {

// {"identity", "kind", "account", "dns_records": [{"name", "type", "value"[, "state"]}]}
json add_identity(env& e, const std::string& account, const std::string& identity);
json show_identity(env& e, const std::string& account, const std::string& identity);
// [{"identity", "kind", "created", "dkim"}]; with check_dns the DKIM state
// says whether the records are published ("records found", "records missing"),
// else what the keys are ("active keys", "new keys pending").
json list_identities(env& e, const std::string& account, bool check_dns);
// {"identity", "dns_records"}: the new keys' records
json rotate_dkim(env& e, const std::string& account, const std::string& domain);
// {"identity", "dkim": [{"name", "state", "dns"}], "spf", "dmarc", "activated"}
json verify_identity(env& e, const std::string& account, const std::string& domain);
json retire_dkim(env& e, const std::string& account, const std::string& domain);
json remove_identity(env& e, const std::string& account, const std::string& identity);

}  // namespace smtpsd::service
