#pragma once
// CRC-32C (Castagnoli), the checksum of spool records. Uses the SSE 4.2
// crc32 instruction where the CPU has it (as PostgreSQL and RocksDB do) and
// Boost.CRC's table otherwise. Not a cryptographic digest: it detects torn
// and corrupted writes, nothing more.
#include <cstdint>
#include <string_view>

namespace smtpsd::base {

// crc32c(a + b) == crc32c_extend(crc32c(a), b); crc32c("") == 0.
std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view bytes);
inline std::uint32_t crc32c(std::string_view bytes) { return crc32c_extend(0, bytes); }

}  // namespace smtpsd::base
