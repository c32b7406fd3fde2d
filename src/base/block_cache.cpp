#include "base/block_cache.hpp"

#include <malloc.h>

#include <algorithm>
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

struct odd_block {
  void* p;
  std::size_t usable;
};

struct spare_blocks {
  void* blocks[spares_per_thread] = {};
  int count = 0;
  odd_block odd[odd_spares_per_thread] = {};
  int odd_count = 0;
  bool gone = false;  // the thread is ending: free, keep nothing
  ~spare_blocks() {
    gone = true;
    while (count > 0) std::free(blocks[--count]);
    while (odd_count > 0) std::free(odd[--odd_count].p);
  }
};

thread_local spare_blocks mine;

}  // namespace

void* take() noexcept {
  if (mine.count > 0) return mine.blocks[--mine.count];
  return std::malloc(block_size);
}

void* take(std::size_t n) noexcept {
  if (n > odd_limit && n <= block_size) return take();
  if (n > odd_floor && n <= odd_limit) {
    for (int i = mine.odd_count - 1; i >= 0; --i) {  // the latest first: the likeliest to be warm
      if (mine.odd[i].usable < n || mine.odd[i].usable - n > n / 4) continue;
      void* p = mine.odd[i].p;
      std::copy(mine.odd + i + 1, mine.odd + mine.odd_count, mine.odd + i);  // the order stays: oldest first
      --mine.odd_count;
      return p;
    }
  }
  return std::malloc(n);
}

void give(void* p) noexcept {
  if (!p) return;
  if (!mine.gone) {
    const std::size_t usable = malloc_usable_size(p);
    if (usable == usable_size() && mine.count < spares_per_thread) {
      mine.blocks[mine.count++] = p;
      return;
    }
    if (usable > odd_floor && usable <= odd_limit) {
      if (mine.odd_count == odd_spares_per_thread) {  // the oldest makes room: the likeliest to be stale
        std::free(mine.odd[0].p);
        std::copy(mine.odd + 1, mine.odd + mine.odd_count, mine.odd);
        --mine.odd_count;
      }
      mine.odd[mine.odd_count++] = {p, usable};
      return;
    }
  }
  std::free(p);
}

int spares() noexcept { return mine.count; }
int odd_spares() noexcept { return mine.odd_count; }

}  // namespace smtpsd::base::block_cache
