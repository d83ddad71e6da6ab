#include "metrics/process_metrics.h"

#include <gtest/gtest.h>

namespace kinesyslog::metrics {
namespace {

// A command name with spaces and parentheses, as proc(5) warns.
constexpr std::string_view kStat =
    "4242 (kines) (yslog) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 7 0 12345 "
    "300000000 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessMetrics, ParsesProcSelfStat) {
  const auto s = parseProcStat(kStat, 100, 4096, 1'700'000'000);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpuSeconds, 3.0);
  EXPECT_DOUBLE_EQ(s->startTimeSeconds, 1'700'000'000 + 123.45);
  EXPECT_EQ(s->residentBytes, 2560u * 4096);
}

TEST(ProcessMetrics, RefusesOtherText) {
  EXPECT_FALSE(parseProcStat("", 100, 4096, 0));
  EXPECT_FALSE(parseProcStat("1 (x) S 1 2 3", 100, 4096, 0));
  EXPECT_FALSE(parseProcStat(kStat, 0, 4096, 0));
}

TEST(ProcessMetrics, ParsesBootTime) {
  EXPECT_EQ(parseBootTime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1700000000.0);
  EXPECT_FALSE(parseBootTime("cpu 1\n"));
}

TEST(ProcessMetrics, ReadsThisProcess) {
  const auto s = readProcessStats();
  EXPECT_GT(s.residentBytes, 0u);
  EXPECT_GT(s.openFds, 0u);
  EXPECT_GE(s.maxFds, s.openFds);
  EXPECT_GT(s.startTimeSeconds, 1'600'000'000);
}

}  // namespace
}  // namespace kinesyslog::metrics
