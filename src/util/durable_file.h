#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace kinesyslog {

// Writes all of `data`, retrying short writes and EINTR. Returns 0 or an errno value.
int writeAll(int fd, std::string_view data);

// fsync()s a directory so that a rename or unlink inside it survives a crash. Returns 0 or an
// errno value.
int fsyncDirectory(const std::filesystem::path& dir);

// strerror() text for an errno value, thread-safe.
std::string errnoText(int error);

// Start-up check of a directory the relay must write (spool, output): creates it when missing
// and proves it writable by creating and removing a probe file — permission bits say little
// (root, ACLs, read-only mounts, full disks). Throws StartupError(kExitNoPermission) naming
// `role` and the path.
void ensureWritableDirectory(const std::filesystem::path& dir, std::string_view role);

}  // namespace kinesyslog
