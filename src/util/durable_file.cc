// Covered by spool/spool_directory_test.cc and spool/message_journal_test.cc (every spool and
// journal write goes through it).
#include "util/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "util/startup_error.h"

namespace kinesyslog {

int writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

int fsyncDirectory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int error = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

std::string errnoText(int error) {
  return std::system_category().message(error);
}

void ensureWritableDirectory(const std::filesystem::path& dir, std::string_view role) {
  auto fail = [&](std::string_view what, const std::string& error) {
    throw StartupError(kExitNoPermission, std::string(role) + " " + dir.string() + ": " +
                                              std::string(what) + ": " + error);
  };
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("cannot create it", ec.message());
  if (!std::filesystem::is_directory(dir, ec)) {
    fail("cannot use it", ec ? ec.message() : "not a directory");
  }
  // O_EXCL: in a shared directory such as /tmp the name may already exist, even as a symlink
  // planted to make us truncate another file.
  std::filesystem::path probe;
  int fd = -1;
  for (int n = 0; fd < 0 && n < 100; ++n) {
    probe = dir / (".kinesyslog-probe-" + std::to_string(::getpid()) + "-" + std::to_string(n));
    fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  int error = fd < 0 ? errno : writeAll(fd, "x");
  if (fd >= 0) ::close(fd);
  if (fd >= 0 && ::unlink(probe.c_str()) != 0 && error == 0) error = errno;
  if (error != 0) fail("cannot write in it", errnoText(error));
}

}  // namespace kinesyslog
