#include "store/embedded/mapped_change_signal.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "store/types.hpp"

namespace smtpsd::store::embedded {

namespace {
constexpr std::size_t word_size = sizeof(std::uint64_t);

std::uint64_t* map_word(const std::filesystem::path& file) {
  auto fail = [&](const char* what) {
    return store_error(fmt::format("cannot {} {}: {}", what, file.string(), std::strerror(errno)), false);
  };
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw fail("open");
  struct stat st {};
  // Two processes that create it at once both extend it to the same size,
  // which keeps whatever count one of them already wrote.
  if (::fstat(fd, &st) != 0 || (st.st_size < static_cast<off_t>(word_size) && ::ftruncate(fd, word_size) != 0)) {
    auto e = fail("size");
    ::close(fd);
    throw e;
  }
  void* p = ::mmap(nullptr, word_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    auto e = fail("map");
    ::close(fd);
    throw e;
  }
  ::close(fd);  // the mapping stays
  return static_cast<std::uint64_t*>(p);
}
}  // namespace

mapped_change_signal::mapped_change_signal(const std::filesystem::path& file) : change_signal(map_word(file)) {}

mapped_change_signal::~mapped_change_signal() { ::munmap(word(), word_size); }

}  // namespace smtpsd::store::embedded
