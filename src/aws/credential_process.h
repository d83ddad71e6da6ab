#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace kinesyslog::aws {

// What a credential_process command did (botocore's ProcessProvider runs it the same way).
struct [[nodiscard]] ProcessResult {
  int exitStatus = -1;  // waitpid status
  bool timedOut = false;
  bool outputTooLarge = false;
  std::string out;
  std::string err;
};

// Runs `command` with /bin/sh -c in its own process group (so a timeout can kill whatever it
// started), stdin from /dev/null, and collects stdout and stderr (each at most `maxOutput`
// bytes). posix_spawn rather than fork: the relay is multi-threaded. Throws CredentialsError
// naming `profile` when the process cannot be started. Covered by
// aws/credential_providers_test.cc (ProcessProvider).
ProcessResult runShell(const std::string& command, std::chrono::milliseconds timeout,
                       size_t maxOutput, const std::string& profile);

}  // namespace kinesyslog::aws
