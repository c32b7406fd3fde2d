#include "net/user.hpp"

#include <sys/stat.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace smtpsd::net {

void switch_to_user(const std::string& user) {
  const passwd* pw = ::getpwnam(user.c_str());
  if (!pw) throw std::runtime_error("user \"" + user + "\" does not exist");
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0)
    throw std::runtime_error("cannot switch to user " + user + ": " + std::strerror(errno));
  if (::setuid(0) == 0) throw std::runtime_error("dropped privileges could be regained; refusing to go on");
}

bool hand_over_contents(const std::filesystem::path& dir, const std::string& user) {
  const passwd* pw = ::getpwnam(user.c_str());
  if (!pw) throw std::runtime_error("user \"" + user + "\" does not exist");
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != pw->pw_uid) return false;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != decltype(it){}; it.increment(ec)) {
    const auto& p = it->path();
    if (::lstat(p.c_str(), &st) != 0 || st.st_uid == pw->pw_uid) continue;
    if (::lchown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot give " + p.string() + " to " + user + ": " + std::strerror(errno));
  }
  return true;
}

}  // namespace smtpsd::net
