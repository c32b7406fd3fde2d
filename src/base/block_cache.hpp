#pragma once
// A thread's few spare blocks of one size, for the buffers that are
// allocated and freed again for nearly every SMTP command: OpenSSL's record
// buffers (SSL_MODE_RELEASE_BUFFERS frees each one as soon as it is empty,
// so an idle connection holds none) and a session's input buffer (freed
// whenever the session waits, for the same reason): three or more blocks of
// 16-18 KiB per command. glibc serves each from its unsorted and large bins,
// after consolidating its fast bins.
// A spare is taken and given back on the same thread, without a lock; a block
// freed on another thread simply joins that thread's spares.
#include <cstddef>

namespace smtpsd::base::block_cache {

// Large enough for a TLS record buffer (16 KiB of plaintext and its overhead).
inline constexpr std::size_t block_size = 18 * 1024;
// At most this many spares per thread: memory a thread keeps that no
// connection holds.
inline constexpr int spares_per_thread = 4;

// block_size octets, malloc'd: one of this thread's spares, else a new one.
// Null when malloc fails.
void* take() noexcept;
// Keeps p as a spare when it is a malloc'd block of block_size (any, not only
// one from take()) and this thread has room; frees it otherwise. Null is a
// no-op.
void give(void* p) noexcept;
// How many spares this thread holds (for tests).
int spares() noexcept;

}  // namespace smtpsd::base::block_cache
