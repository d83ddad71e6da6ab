#include "deliver/backoff.h"

#include <gtest/gtest.h>

#include <limits>

namespace kinesyslog::deliver {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, EachDelayStaysWithinItsDoublingCeilingUpToTheCap) {
  const int64_t expectedCeilings[] = {100,  200,   400,   800,   1600,  3200,
                                      6400, 12800, 20000, 20000, 20000, 20000};
  for (uint64_t seed = 0; seed < 500; ++seed) {
    Backoff backoff(milliseconds(100), milliseconds(20000), seed);
    for (int attempt = 0; attempt < 12; ++attempt) {
      EXPECT_EQ(backoff.attempt(), attempt);
      EXPECT_EQ(backoff.ceiling().count(), expectedCeilings[attempt]);
      milliseconds delay = backoff.next();
      ASSERT_GE(delay.count(), 0) << "seed " << seed << " attempt " << attempt;
      ASSERT_LE(delay.count(), expectedCeilings[attempt]) << "seed " << seed;
    }
  }
}

TEST(BackoffTest, DelaysUseTheWholeRangeAndGrowOnAverage) {
  // Full jitter: over many seeds each attempt's delays spread over [0, ceiling], so their mean
  // is about half the ceiling, and later attempts wait longer on average.
  constexpr int kSeeds = 2000;
  double previousMean = -1;
  for (int attempt = 0; attempt < 6; ++attempt) {
    double sum = 0;
    int64_t lowest = std::numeric_limits<int64_t>::max();
    int64_t highest = 0;
    for (uint64_t seed = 0; seed < kSeeds; ++seed) {
      Backoff backoff(milliseconds(100), milliseconds(20000), seed);
      milliseconds delay{};
      for (int i = 0; i <= attempt; ++i) delay = backoff.next();
      sum += static_cast<double>(delay.count());
      lowest = std::min(lowest, delay.count());
      highest = std::max(highest, delay.count());
    }
    const double ceiling = 100.0 * (1 << attempt);
    const double mean = sum / kSeeds;
    EXPECT_NEAR(mean, ceiling / 2, ceiling * 0.05) << "attempt " << attempt;
    EXPECT_LT(static_cast<double>(lowest), ceiling * 0.02);
    EXPECT_GT(static_cast<double>(highest), ceiling * 0.98);
    EXPECT_GT(mean, previousMean);
    previousMean = mean;
  }
}

TEST(BackoffTest, ResetStartsFromTheBaseAgain) {
  Backoff backoff(milliseconds(50), milliseconds(1000), 7);
  for (int i = 0; i < 10; ++i) backoff.next();
  EXPECT_EQ(backoff.attempt(), 10);
  EXPECT_EQ(backoff.ceiling(), milliseconds(1000));
  backoff.reset();
  EXPECT_EQ(backoff.attempt(), 0);
  EXPECT_EQ(backoff.ceiling(), milliseconds(50));
  EXPECT_LE(backoff.next(), milliseconds(50));
  EXPECT_EQ(backoff.attempt(), 1);
}

TEST(BackoffTest, SameSeedSameDelays) {
  Backoff a(milliseconds(100), milliseconds(20000), 42);
  Backoff b(milliseconds(100), milliseconds(20000), 42);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.next(), b.next());
}

TEST(BackoffTest, ManyAttemptsAndExtremeSettingsNeitherOverflowNorSpin) {
  Backoff huge(milliseconds(1), milliseconds(std::numeric_limits<int64_t>::max()), 1);
  for (int i = 0; i < 200; ++i) ASSERT_GE(huge.next().count(), 0);
  EXPECT_EQ(huge.ceiling().count(), std::numeric_limits<int64_t>::max());
  Backoff zero(milliseconds(0), milliseconds(1000), 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(zero.next(), milliseconds(0));
  Backoff capBelowBase(milliseconds(500), milliseconds(100), 1);
  EXPECT_EQ(capBelowBase.ceiling(), milliseconds(100));
  EXPECT_LE(capBelowBase.next(), milliseconds(100));
}

}  // namespace
}  // namespace kinesyslog::deliver
