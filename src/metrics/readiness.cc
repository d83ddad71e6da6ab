#include "metrics/readiness.h"

#include <fmt/format.h>

namespace kinesyslog::metrics {

Readiness judgeReadiness(const ReadinessInput& in) {
  if (!in.listenersOpen) return {false, "listeners are not open"};
  if (in.spoolFull) {
    return {false, fmt::format("spool full ({} of {} bytes): TCP reading paused, UDP dropped",
                               in.spoolBytes, in.spoolMaxBytes)};
  }
  if (in.failingForSeconds && *in.failingForSeconds >= in.unhealthyAgeSeconds) {
    return {false, fmt::format("every upload has failed for {:.0f} s (limit {:g} s)",
                               *in.failingForSeconds, in.unhealthyAgeSeconds)};
  }
  if (in.oldestSpooledAgeSeconds && *in.oldestSpooledAgeSeconds >= in.unhealthyAgeSeconds) {
    return {false, fmt::format("oldest spooled record is {:.0f} s old (limit {:g} s)",
                               *in.oldestSpooledAgeSeconds, in.unhealthyAgeSeconds)};
  }
  return {true, "ready"};
}

}  // namespace kinesyslog::metrics
