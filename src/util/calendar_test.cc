#include "util/calendar.h"

#include <gtest/gtest.h>

namespace kinesyslog {
namespace {

TEST(Calendar, DaysFromCivilAndBackAgreeAcrossErasAndLeapDays) {
  EXPECT_EQ(daysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(daysFromCivil(2000, 3, 1) - daysFromCivil(2000, 2, 28), 2);  // 2000 is a leap year
  EXPECT_EQ(daysFromCivil(1900, 3, 1) - daysFromCivil(1900, 2, 28), 1);  // 1900 is not
  EXPECT_EQ(daysFromCivil(1969, 12, 31), -1);
  for (int64_t days = -800'000; days <= 800'000; days += 997) {
    const CivilDate date = civilFromDays(days);
    EXPECT_EQ(daysFromCivil(date.year, date.month, date.day), days);
    EXPECT_LE(date.day, daysInMonth(date.year, date.month));
  }
}

TEST(Calendar, FloorDivRoundsTowardNegativeInfinity) {
  EXPECT_EQ(floorDiv(-1, kMicrosPerDay), -1);
  EXPECT_EQ(floorDiv(0, kMicrosPerDay), 0);
  EXPECT_EQ(floorDiv(kMicrosPerDay, kMicrosPerDay), 1);
  static_assert(daysFromCivil(2026, 1, 1) == 20454);
}

}  // namespace
}  // namespace kinesyslog
