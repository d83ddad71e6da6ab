#pragma once

#include <stdexcept>
#include <string>

namespace kinesyslog {

// Exit codes of docs/design.md "Exit codes" (sysexits.h values where one exists).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNoPermission = 77;  // EX_NOPERM
inline constexpr int kExitConfig = 78;        // EX_CONFIG
// Shutdown ended with messages the disk would not take into the spool (the journal keeps them).
inline constexpr int kExitUnspooled = 75;  // EX_TEMPFAIL

// Thrown only during start-up for a problem that ends the process with one clear line. The
// data path never throws; it returns values and counts.
class StartupError : public std::runtime_error {
 public:
  StartupError(int exitCode, const std::string& message)
      : std::runtime_error(message), exitCode_(exitCode) {}
  int exitCode() const { return exitCode_; }

 private:
  int exitCode_;
};

}  // namespace kinesyslog
