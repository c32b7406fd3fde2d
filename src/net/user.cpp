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

void hand_over(const std::vector<std::filesystem::path>& paths, const std::string& user) {
  const passwd* pw = ::getpwnam(user.c_str());
  if (!pw) throw std::runtime_error("user \"" + user + "\" does not exist");
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  auto give = [&](const std::filesystem::path& p) {
    struct stat st{};
    if (::lstat(p.c_str(), &st) != 0 || st.st_uid == uid) return;
    if (::lchown(p.c_str(), uid, gid) != 0)
      throw std::runtime_error("cannot give " + p.string() + " to " + user + ": " + std::strerror(errno));
  };
  for (const auto& p : paths) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(p, ec))) continue;
    give(p);
    if (!std::filesystem::is_directory(std::filesystem::symlink_status(p, ec))) continue;
    for (auto it = std::filesystem::recursive_directory_iterator(p, ec); !ec && it != decltype(it){}; it.increment(ec))
      give(it->path());
  }
}

}  // namespace smtpsd::net
