// Covered by aws/credential_providers_test.cc (ProcessProvider runs real shell commands).
#include "aws/credential_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "aws/credentials.h"

extern char** environ;

namespace kinesyslog::aws {

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Starts `/bin/sh -c command` in a process group of its own, stdin from /dev/null, stdout and
// stderr to the pipes' write ends. Throws CredentialsError when it cannot start.
pid_t spawnShell(const std::string& command, int outWrite, int errWrite,
                 const std::string& profile) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, outWrite, 1);
  posix_spawn_file_actions_adddup2(&actions, errWrite, 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attributes, 0);
  // The relay blocks signals in its threads and handles SIGTERM itself; the child must start
  // with a clean mask and default handlers.
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attributes, &all);

  std::string shell = "/bin/sh";
  std::string dashC = "-c";
  std::string commandCopy = command;
  std::array<char*, 4> argv{shell.data(), dashC.data(), commandCopy.data(), nullptr};
  pid_t pid = -1;
  const int spawnError =
      ::posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawnError != 0) {
    throw CredentialsError("profile '" + profile +
                           "': credential_process cannot start: " + std::strerror(spawnError));
  }
  return pid;
}

// Reads stdout (up to maxOutput) and stderr (up to 4 KiB) until both close, the deadline passes
// or stdout overflows.
void collectOutput(Fd& outRead, Fd& errRead, std::chrono::steady_clock::time_point deadline,
                   size_t maxOutput, ProcessResult& result) {
  constexpr size_t kMaxStderr = 4096;
  std::array<char, 4096> buffer{};
  while (outRead.get() >= 0 || errRead.get() >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timedOut = true;
      break;
    }
    std::array<pollfd, 2> fds{pollfd{outRead.get(), POLLIN, 0}, pollfd{errRead.get(), POLLIN, 0}};
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      Fd& fd = i == 0 ? outRead : errRead;
      const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fd.reset();
        continue;
      }
      std::string& sink = i == 0 ? result.out : result.err;
      const size_t cap = i == 0 ? maxOutput : kMaxStderr;
      const size_t keep = std::min(static_cast<size_t>(got), cap - std::min(cap, sink.size()));
      sink.append(buffer.data(), keep);
      if (i == 0 && keep < static_cast<size_t>(got)) result.outputTooLarge = true;
    }
    if (result.outputTooLarge) break;
  }
}

}  // namespace

ProcessResult runShell(const std::string& command, std::chrono::milliseconds timeout,
                       size_t maxOutput, const std::string& profile) {
  std::array<int, 2> outPipe{-1, -1};
  std::array<int, 2> errPipe{-1, -1};
  if (::pipe2(outPipe.data(), O_CLOEXEC) != 0) {
    throw CredentialsError("profile '" + profile +
                           "': credential_process: pipe: " + std::strerror(errno));
  }
  Fd outRead(outPipe[0]);
  Fd outWrite(outPipe[1]);
  if (::pipe2(errPipe.data(), O_CLOEXEC) != 0) {
    throw CredentialsError("profile '" + profile +
                           "': credential_process: pipe: " + std::strerror(errno));
  }
  Fd errRead(errPipe[0]);
  Fd errWrite(errPipe[1]);

  const pid_t pid = spawnShell(command, outWrite.get(), errWrite.get(), profile);
  outWrite.reset();
  errWrite.reset();

  ProcessResult result;
  collectOutput(outRead, errRead, std::chrono::steady_clock::now() + timeout, maxOutput, result);
  if (result.timedOut || result.outputTooLarge) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exitStatus = status;
  return result;
}

}  // namespace kinesyslog::aws
