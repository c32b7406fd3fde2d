#pragma once
// Switching a root process to an unprivileged account: the server after it
// binds its listeners, the CLI before it touches the data directory.
#include <filesystem>
#include <string>

namespace smtpsd::net {

// setgid, initgroups, setuid to `user`; then checks root cannot be regained.
// Throws std::runtime_error naming the user and the reason.
void switch_to_user(const std::string& user);

// When `dir` belongs to `user`, gives `user` everything in it that root made
// (the store, the event journal, spool files): the folder is the user's, so
// all it holds is too. A folder that belongs to someone else is left alone
// (false): a data_dir shared with other software is never taken over.
// Symbolic links are changed, never followed. Throws std::runtime_error
// naming the path it could not change.
bool hand_over_contents(const std::filesystem::path& dir, const std::string& user);

}  // namespace smtpsd::net
