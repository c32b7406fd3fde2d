#pragma once
// A thread's few spare blocks, for what is allocated and freed again for
// nearly every SMTP command or connection, above the sizes glibc keeps in
// its per-thread cache (1,032 octets; glibc 2.36 cannot raise that). glibc
// serves larger blocks from its shared bins, after consolidating its fast
// bins, which costs far more than a small block.
// - Blocks of block_size: OpenSSL's record buffers (SSL_MODE_RELEASE_BUFFERS
//   frees each one as soon as it is empty, so an idle connection holds none)
//   and a session's input buffer (freed whenever the session waits, for the
//   same reason): three or more blocks of 16-18 KiB per command; and
//   OpenSSL's handshake buffer, once per connection.
// - Other blocks above 1,032 octets and up to odd_limit: OpenSSL's objects of
//   a handshake (the SSL object, its buffering BIO, key objects), each
//   allocated and freed once per connection.
// A spare is taken and given back on the same thread, without a lock; a block
// freed on another thread simply joins that thread's spares.
#include <cstddef>

namespace smtpsd::base::block_cache {

// Large enough for a TLS record buffer (16 KiB of plaintext and its overhead)
// and for OpenSSL's handshake buffer (21,848 octets: BUF_MEM_grow's 4/3 of
// 16 KiB).
inline constexpr std::size_t block_size = 22 * 1024;
// At most this many spares of block_size per thread: memory a thread keeps
// that no connection holds.
inline constexpr int spares_per_thread = 4;
// The other blocks kept: above glibc's per-thread cache, up to odd_limit
// octets, at most odd_spares_per_thread of them.
inline constexpr std::size_t odd_floor = 1032;
inline constexpr std::size_t odd_limit = 16 * 1024;
inline constexpr int odd_spares_per_thread = 8;

// block_size octets, malloc'd: one of this thread's spares, else a new one.
// Null when malloc fails.
void* take() noexcept;
// At least n octets, malloc'd: a block_size spare when n is above odd_limit
// and fits one; a spare of the other kind when n is above odd_floor and one
// fits without wasting more than a quarter of n; else malloc(n).
void* take(std::size_t n) noexcept;
// Keeps p as a spare when it is a malloc'd block (any, not only one from
// take()) of block_size or of a size between odd_floor and odd_limit, and
// this thread has room for it; frees it otherwise. Null is a no-op.
void give(void* p) noexcept;
// How many spares of block_size, and of the other sizes, this thread holds
// (for tests).
int spares() noexcept;
int odd_spares() noexcept;

}  // namespace smtpsd::base::block_cache
