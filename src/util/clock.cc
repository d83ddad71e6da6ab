// Covered by spool/spool_directory_test.cc (SpoolDirectory's default SystemClock) and
// tests/integration/.
#include "util/clock.h"

#include <chrono>

namespace kinesyslog {

int64_t SystemClock::nowMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t SystemClock::monotonicMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace kinesyslog
