#pragma once

#include <optional>
#include <string>

namespace kinesyslog::metrics {

// What /readyz judges: whether the relay takes messages and delivery keeps up.
struct ReadinessInput {
  bool listenersOpen = false;  // false before the listeners open and once shutdown begins
  bool spoolFull = false;
  uint64_t spoolBytes = 0;
  uint64_t spoolMaxBytes = 0;
  std::optional<double> oldestSpooledAgeSeconds;  // nullopt: the spool is empty
  std::optional<double> failingForSeconds;  // since the first failed upload with no success since
  double unhealthyAgeSeconds = 300;         // --unhealthy-spool-age
};

struct Readiness {
  bool ready = false;
  std::string reason;  // one line, e.g. "ready" or "spool full (1073741824 of 1073741824 bytes)"
};

// The first rule that holds, in this order: listeners closed, spool full, every upload failing
// for --unhealthy-spool-age, oldest spooled record older than --unhealthy-spool-age.
Readiness judgeReadiness(const ReadinessInput& in);

}  // namespace kinesyslog::metrics
