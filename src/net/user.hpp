#pragma once
// Switching a root process to an unprivileged account: the server after it
// binds its listeners, the CLI before it touches the data directory.
#include <filesystem>
#include <string>
#include <vector>

namespace smtpsd::net {

// setgid, initgroups, setuid to `user`; then checks root cannot be regained.
// Throws std::runtime_error naming the user and the reason.
void switch_to_user(const std::string& user);

// Gives `user` these paths (folders with all they hold) where root made
// them: the store, the event journal, spool files. Only the named paths: a
// data_dir shared with other software is never taken over. Symbolic links
// are changed, never followed. Throws std::runtime_error naming the path.
void hand_over(const std::vector<std::filesystem::path>& paths, const std::string& user);

}  // namespace smtpsd::net
