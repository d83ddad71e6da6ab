#include "metrics/readiness.h"

#include <gtest/gtest.h>

namespace kinesyslog::metrics {
namespace {

ReadinessInput healthy() {
  ReadinessInput in;
  in.listenersOpen = true;
  in.spoolBytes = 10;
  in.spoolMaxBytes = 100;
  in.unhealthyAgeSeconds = 300;
  return in;
}

TEST(Readiness, ReadyWhenListeningAndKeepingUp) {
  auto in = healthy();
  in.oldestSpooledAgeSeconds = 299.9;
  in.failingForSeconds = 299.9;
  const auto r = judgeReadiness(in);
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.reason, "ready");
}

TEST(Readiness, EachRuleHasItsReason) {
  auto in = healthy();
  in.listenersOpen = false;
  EXPECT_EQ(judgeReadiness(in).reason, "listeners are not open");

  in = healthy();
  in.spoolFull = true;
  in.spoolBytes = 100;
  EXPECT_FALSE(judgeReadiness(in).ready);
  EXPECT_EQ(judgeReadiness(in).reason,
            "spool full (100 of 100 bytes): TCP reading paused, UDP dropped");

  in = healthy();
  in.failingForSeconds = 300;
  EXPECT_EQ(judgeReadiness(in).reason, "every upload has failed for 300 s (limit 300 s)");

  in = healthy();
  in.oldestSpooledAgeSeconds = 301.4;
  EXPECT_EQ(judgeReadiness(in).reason, "oldest spooled record is 301 s old (limit 300 s)");
}

TEST(Readiness, ReasonIsOneLine) {
  auto in = healthy();
  in.spoolFull = true;
  EXPECT_EQ(judgeReadiness(in).reason.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace kinesyslog::metrics
