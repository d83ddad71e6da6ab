#include "proto/syslog/local_zone.h"

// The same configuration as Debian's libdate-tz (see local_zone.cc); date/tz serves here as the
// independent oracle for the calendar arithmetic and the offset table.
#ifndef USE_OS_TZDB
#define USE_OS_TZDB 1
#endif
#ifndef ONLY_C_LOCALE
#define ONLY_C_LOCALE 1
#endif
#ifndef HAS_STRING_VIEW
#define HAS_STRING_VIEW 1
#endif

#include <date/tz.h>
#include <gtest/gtest.h>

#include <chrono>
#include <random>

namespace kinesyslog::syslog {
namespace {

static_assert(daysFromCivil(1970, 1, 1) == 0);
static_assert(daysFromCivil(1969, 12, 31) == -1);
static_assert(daysFromCivil(2000, 3, 1) == 11017);
static_assert(civilFromDays(11016).month == 2 && civilFromDays(11016).day == 29);
static_assert(daysInMonth(2024, 2) == 29 && daysInMonth(2023, 2) == 28 &&
              daysInMonth(1900, 2) == 28);
static_assert(daysInMonth(2000, 2) == 29 && daysInMonth(2023, 4) == 30);
static_assert(floorDiv(-1, 1000) == -1 && floorDiv(-1000, 1000) == -1 && floorDiv(999, 1000) == 0);

constexpr int64_t kHour = 3600 * kMicrosPerSecond;

// Local or UTC wall time as micros, through date/tz's own calendar.
int64_t micros(int year, unsigned month, unsigned day, int hour, int minute, int second = 0) {
  const date::sys_days days = date::year{year} / date::month{month} / date::day{day};
  return (days.time_since_epoch().count() * kSecondsPerDay + hour * 3600 + minute * 60 + second) *
         kMicrosPerSecond;
}

LocalZone mustFind(std::string_view name) {
  std::optional<LocalZone> zone = LocalZone::find(name);
  EXPECT_TRUE(zone.has_value()) << name;
  return zone ? *zone : LocalZone::utc();
}

TEST(CivilTest, MatchesDateLibraryForEveryDayOfYears0To9999) {
  const int64_t first = daysFromCivil(0, 1, 1);
  const int64_t last = daysFromCivil(10000, 1, 1);
  ASSERT_EQ(first, date::sys_days{date::year{0} / 1 / 1}.time_since_epoch().count());
  for (int64_t days = first; days < last; ++days) {
    const date::year_month_day expected{date::sys_days{date::days{days}}};
    const CivilDate got = civilFromDays(days);
    ASSERT_EQ(got.year, static_cast<int>(expected.year())) << days;
    ASSERT_EQ(got.month, static_cast<unsigned>(expected.month())) << days;
    ASSERT_EQ(got.day, static_cast<unsigned>(expected.day())) << days;
    ASSERT_EQ(daysFromCivil(got.year, got.month, got.day), days);
  }
}

TEST(LocalZoneTest, UtcAndEtcUtcTakeTheArithmeticPath) {
  for (std::string_view name : {"UTC", "Etc/UTC"}) {
    const LocalZone zone = mustFind(name);
    EXPECT_TRUE(zone.isUtc());
    EXPECT_EQ(zone.name(), name);
    EXPECT_EQ(zone.localToUtcMicros(123456789), 123456789);
    EXPECT_EQ(zone.utcToLocalMicros(-123456789), -123456789);
  }
  EXPECT_EQ(LocalZone::utc().name(), "UTC");
  EXPECT_TRUE(LocalZone::utc().isUtc());
}

TEST(LocalZoneTest, ZeroOffsetZonesUnderOtherNamesAreUtcToo) {
  const LocalZone zone = mustFind("Etc/GMT");
  EXPECT_TRUE(zone.isUtc());
  EXPECT_EQ(zone.name(), "Etc/GMT");
}

TEST(LocalZoneTest, UnknownNamesAreNotFound) {
  EXPECT_FALSE(LocalZone::find("Nowhere/Atlantis").has_value());
  EXPECT_FALSE(LocalZone::find("").has_value());
  EXPECT_FALSE(LocalZone::find("utc").has_value());  // tz names are case-sensitive
  EXPECT_FALSE(LocalZone::find("../../etc/passwd").has_value());
  EXPECT_FALSE(LocalZone::find("Europe/Berlin ").has_value());
}

TEST(LocalZoneTest, BerlinWinterAndSummer) {
  const LocalZone zone = mustFind("Europe/Berlin");
  EXPECT_FALSE(zone.isUtc());
  EXPECT_EQ(zone.name(), "Europe/Berlin");
  EXPECT_EQ(zone.utcToLocalMicros(micros(2024, 1, 15, 12, 0)), micros(2024, 1, 15, 13, 0));
  EXPECT_EQ(zone.utcToLocalMicros(micros(2024, 7, 15, 12, 0)), micros(2024, 7, 15, 14, 0));
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 1, 15, 13, 0)), micros(2024, 1, 15, 12, 0));
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 7, 15, 14, 0)), micros(2024, 7, 15, 12, 0));
  // Before 1970 and with sub-second precision.
  EXPECT_EQ(zone.localToUtcMicros(micros(1960, 1, 1, 0, 0) + 7), micros(1959, 12, 31, 23, 0) + 7);
}

TEST(LocalZoneTest, BerlinDstStartSkippedTimeTakesTheEarlierOffset) {
  const LocalZone zone = mustFind("Europe/Berlin");
  // 2024-03-31 02:00 CET jumps to 03:00 CEST (01:00 UTC). 02:30 does not exist: read as +01:00.
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 3, 31, 2, 30)), micros(2024, 3, 31, 1, 30));
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 3, 31, 1, 59, 59)), micros(2024, 3, 31, 0, 59, 59));
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 3, 31, 3, 0)), micros(2024, 3, 31, 1, 0));
  EXPECT_EQ(zone.utcToLocalMicros(micros(2024, 3, 31, 1, 0) - 1), micros(2024, 3, 31, 2, 0) - 1);
  EXPECT_EQ(zone.utcToLocalMicros(micros(2024, 3, 31, 1, 0)), micros(2024, 3, 31, 3, 0));
}

TEST(LocalZoneTest, BerlinDstEndRepeatedTimeTakesTheEarlierOffset) {
  const LocalZone zone = mustFind("Europe/Berlin");
  // 2024-10-27 03:00 CEST falls back to 02:00 CET (01:00 UTC). 02:30 happens twice: the first,
  // at +02:00, is taken.
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 10, 27, 2, 30)), micros(2024, 10, 27, 0, 30));
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 10, 27, 2, 0)), micros(2024, 10, 27, 0, 0));
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 10, 27, 3, 0)), micros(2024, 10, 27, 2, 0));
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 10, 27, 1, 59)), micros(2024, 10, 26, 23, 59));
}

TEST(LocalZoneTest, NewYorkDstChanges) {
  const LocalZone zone = mustFind("America/New_York");
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 1, 15, 7, 0)), micros(2024, 1, 15, 12, 0));
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 7, 15, 8, 0)), micros(2024, 7, 15, 12, 0));
  // 2024-03-10 02:00 EST -> 03:00 EDT: 02:30 is skipped, read at -05:00.
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 3, 10, 2, 30)), micros(2024, 3, 10, 7, 30));
  // 2024-11-03 02:00 EDT -> 01:00 EST: 01:30 is repeated, the first (-04:00) is taken.
  EXPECT_EQ(zone.localToUtcMicros(micros(2024, 11, 3, 1, 30)), micros(2024, 11, 3, 5, 30));
  EXPECT_EQ(zone.utcToLocalMicros(micros(2024, 11, 3, 6, 30)), micros(2024, 11, 3, 1, 30));
}

TEST(LocalZoneTest, SamoaSkippedAWholeDay) {
  // Pacific/Apia went from -10:00 to +14:00 at the end of 2011-12-29: Dec 30 never happened.
  const LocalZone zone = mustFind("Pacific/Apia");
  EXPECT_EQ(zone.localToUtcMicros(micros(2011, 12, 30, 12, 0)), micros(2011, 12, 30, 22, 0));
  EXPECT_EQ(zone.localToUtcMicros(micros(2011, 12, 31, 0, 0)), micros(2011, 12, 30, 10, 0));
}

// Every answer checked against date/tz itself: utcToLocal adds the offset in effect, and
// localToUtc subtracts local_info.first's offset, which is the earlier one for ambiguous and
// skipped local times alike.
void expectMatchesDateLibrary(std::string_view name) {
  SCOPED_TRACE(name);
  const LocalZone zone = mustFind(name);
  const date::time_zone* oracle = date::locate_zone(name);
  std::mt19937_64 random(20240229);
  std::uniform_int_distribution<int64_t> anyTime(micros(1900, 1, 1, 0, 0),
                                                 micros(2037, 1, 1, 0, 0));
  const auto check = [&](int64_t t) {
    const date::sys_seconds utcSeconds{std::chrono::seconds{floorDiv(t, kMicrosPerSecond)}};
    const int64_t offset = oracle->get_info(utcSeconds).offset.count() * kMicrosPerSecond;
    ASSERT_EQ(zone.utcToLocalMicros(t), t + offset) << t;
    const date::local_seconds localSeconds{std::chrono::seconds{floorDiv(t, kMicrosPerSecond)}};
    const int64_t first = oracle->get_info(localSeconds).first.offset.count() * kMicrosPerSecond;
    ASSERT_EQ(zone.localToUtcMicros(t), t - first) << t;
  };
  for (int i = 0; i < 20000; ++i) check(anyTime(random));
  // Around every change from 1970 to 2037, where the interesting cases are.
  date::sys_seconds at{date::sys_days{date::year{1970} / 1 / 1}};
  const date::sys_seconds end{date::sys_days{date::year{2037} / 1 / 1}};
  while (at < end) {
    const date::sys_info info = oracle->get_info(at);
    const int64_t change = info.end.time_since_epoch().count() * kMicrosPerSecond;
    for (int64_t delta = -3 * kHour; delta <= 3 * kHour; delta += kHour / 4) {
      check(change + delta);
      check(change + delta - 1);
    }
    at = info.end;
  }
}

TEST(LocalZoneTest, MatchesDateLibrary) {
  for (std::string_view name :
       {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
        "Pacific/Apia", "Pacific/Kiritimati", "America/St_Johns", "Europe/Dublin"}) {
    expectMatchesDateLibrary(name);
  }
}

}  // namespace
}  // namespace kinesyslog::syslog
