#include "base/malloc_tuning.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

namespace smtpsd::base {

std::optional<std::string> tunables_with_tcache(const char* current) {
  const std::string_view now = current ? current : "";
  if (now.find("glibc.malloc.tcache_count=") != std::string_view::npos) return std::nullopt;
  auto ours = fmt::format("glibc.malloc.tcache_count={}", tcache_count);
  if (now.empty()) return ours;
  return fmt::format("{}:{}", now, ours);  // glibc separates tunables with ':'
}

void reexec_with_malloc_tunables(char** argv) {
  const char* before = std::getenv("GLIBC_TUNABLES");
  auto value = tunables_with_tcache(before);
  if (!value) return;
  const std::optional<std::string> saved = before ? std::optional<std::string>(before) : std::nullopt;
  if (::setenv("GLIBC_TUNABLES", value->c_str(), 1) != 0) return;
  // The binary's own path, not /proc/self/exe: the kernel names the process
  // after the file executed, and `ps`, `pgrep smtpsd` and perf go by that name.
  char self[4096];
  const auto n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    ::execv(self, argv);
  }
  // Still here: no /proc, or the binary was replaced or removed. Run with glibc's defaults,
  // and leave the environment as it was.
  if (saved) ::setenv("GLIBC_TUNABLES", saved->c_str(), 1);
  else ::unsetenv("GLIBC_TUNABLES");
}

}  // namespace smtpsd::base
