#include "base/block_cache.hpp"

#include <malloc.h>

#include <cstdlib>

namespace smtpsd::base::block_cache {

namespace {

// What malloc_usable_size says of a block of block_size: how a block handed
// in is recognised, whoever allocated it.
std::size_t usable_size() noexcept {
  static const std::size_t usable = [] {
    void* p = std::malloc(block_size);
    const std::size_t n = p ? malloc_usable_size(p) : 0;
    std::free(p);
    return n;
  }();
  return usable;
}

struct spare_blocks {
  void* blocks[spares_per_thread] = {};
  int count = 0;
  bool gone = false;  // the thread is ending: free, keep nothing
  ~spare_blocks() {
    gone = true;
    while (count > 0) std::free(blocks[--count]);
  }
};

thread_local spare_blocks mine;

}  // namespace

void* take() noexcept {
  if (mine.count > 0) return mine.blocks[--mine.count];
  return std::malloc(block_size);
}

void give(void* p) noexcept {
  if (!p) return;
  if (!mine.gone && mine.count < spares_per_thread && malloc_usable_size(p) == usable_size()) {
    mine.blocks[mine.count++] = p;
    return;
  }
  std::free(p);
}

int spares() noexcept { return mine.count; }

}  // namespace smtpsd::base::block_cache
