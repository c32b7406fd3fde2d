#include "inbound/verp.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "base/ids.hpp"
#include "base/strings.hpp"

namespace smtpsd::inbound {

namespace {

constexpr char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford, lower case
constexpr std::size_t tag_bytes = 15, tag_chars = 24, part = 5;

std::array<unsigned char, 32> hmac(std::string_view key, std::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out.data(), &len))
    throw std::runtime_error("HMAC-SHA-256 failed");
  return out;
}

std::string message_input(std::string_view queue_id, std::int64_t account_id) {
  return "m\n" + std::string(queue_id) + "\n" + std::to_string(account_id);
}

std::string recipient_input(std::string_view queue_id, std::string_view recipient) {
  return "r\n" + std::string(queue_id) + "\n" + base::to_lower(recipient);
}

std::string encode(const std::array<unsigned char, tag_bytes>& b) {
  std::string out;
  unsigned acc = 0, bits = 0;
  for (auto c : b) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(acc << (5 - bits)) & 31];
  return out;
}

std::optional<std::array<unsigned char, tag_bytes>> decode(std::string_view s) {
  if (s.size() != tag_chars) return std::nullopt;
  std::array<unsigned char, tag_bytes> out{};
  unsigned acc = 0, bits = 0;
  std::size_t n = 0;
  for (char c : s) {
    c = base::ascii_lower(c);
    const char* at = std::char_traits<char>::find(alphabet, 32, c);
    if (!at) return std::nullopt;
    acc = (acc << 5) | static_cast<unsigned>(at - alphabet);
    bits += 5;
    if (bits >= 8) {
      if (n < tag_bytes) out[n++] = static_cast<unsigned char>((acc >> (bits - 8)) & 0xFF);
      bits -= 8;
    }
  }
  return out;
}

bool equal(const unsigned char* a, const unsigned char* b, std::size_t n) {
  unsigned char d = 0;
  for (std::size_t i = 0; i < n; ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

}  // namespace

std::string verp_key(std::string_view installation_secret) {
  auto k = hmac(installation_secret, "smtpsd return path v1");
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

std::string make_return_path(std::string_view key, std::string_view domain, std::string_view queue_id,
                             std::int64_t account_id, std::string_view recipient) {
  std::array<unsigned char, tag_bytes> t{};
  auto id = static_cast<std::uint64_t>(account_id);
  for (std::size_t i = 0; i < part; ++i) t[part - 1 - i] = static_cast<unsigned char>((id >> (8 * i)) & 0xFF);
  auto m = hmac(key, message_input(queue_id, account_id));
  auto r = hmac(key, recipient_input(queue_id, recipient));
  std::copy_n(m.begin(), part, t.begin() + part);
  std::copy_n(r.begin(), part, t.begin() + 2 * part);
  return "b+" + std::string(queue_id) + "-" + encode(t) + "@" + std::string(domain);
}

verp_check parse_return_path(std::string_view key, std::string_view domain, std::string_view address,
                             return_path& out) {
  const auto at = address.rfind('@');
  if (at == std::string_view::npos || !base::iequals(address.substr(at + 1), domain)) return verp_check::not_verp;
  auto local = address.substr(0, at);
  if (local.size() != 2 + 16 + 1 + tag_chars || !base::istarts_with(local, "b+") || local[18] != '-')
    return verp_check::not_verp;
  const auto queue_id = base::to_upper(local.substr(2, 16));
  auto t = decode(local.substr(19));
  if (!base::is_queue_id(queue_id) || !t) return verp_check::not_verp;
  std::uint64_t id = 0;
  for (std::size_t i = 0; i < part; ++i) id = (id << 8) | (*t)[i];
  const auto account_id = static_cast<std::int64_t>(id);
  auto m = hmac(key, message_input(queue_id, account_id));
  if (!equal(m.data(), t->data() + part, part)) return verp_check::forged;
  out.queue_id = queue_id;
  out.account_id = account_id;
  out.recipient_tag.assign(reinterpret_cast<const char*>(t->data() + 2 * part), part);
  return verp_check::ok;
}

bool recipient_matches(std::string_view key, const return_path& rp, std::string_view recipient) {
  if (rp.recipient_tag.size() != part) return false;
  auto r = hmac(key, recipient_input(rp.queue_id, recipient));
  return equal(r.data(), reinterpret_cast<const unsigned char*>(rp.recipient_tag.data()), part);
}

}  // namespace smtpsd::inbound
