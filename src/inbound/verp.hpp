#pragma once
// The return path (SPEC §9): with [bounces] domain set, every outgoing MAIL
// FROM is b+QUEUEID-TAG@DOMAIN, one per recipient (VERP), so a bounce or a
// complaint that comes back later names the message, the account and the
// recipient it is about. TAG is 24 characters of base32 over 15 bytes: the
// account id (5 bytes), an HMAC of (queue id, account id) (5 bytes) that
// proves smtpsd made the address, and an HMAC of (queue id, recipient) (5
// bytes) that tells which of the addresses a report names was the
// recipient. The key comes from the installation secret, so every node
// makes and checks the same addresses. Pure.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smtpsd::inbound {

// The VERP key of an installation (32 bytes) from its installation secret.
std::string verp_key(std::string_view installation_secret);

std::string make_return_path(std::string_view key, std::string_view domain, std::string_view queue_id,
                             std::int64_t account_id, std::string_view recipient);

// What a return path says, once its HMAC held.
struct return_path {
  std::string queue_id;
  std::int64_t account_id = 0;
  std::string recipient_tag;  // 5 bytes: compare with recipient_matches()
};

enum class verp_check { ok, not_verp, forged };
// `address` is local@domain; not_verp when it is not a b+… address at
// `domain`, forged when its HMAC does not hold.
verp_check parse_return_path(std::string_view key, std::string_view domain, std::string_view address,
                             return_path& out);
// Whether `recipient` is the one the return path was made for.
bool recipient_matches(std::string_view key, const return_path& rp, std::string_view recipient);

}  // namespace smtpsd::inbound
