#pragma once

#include <cstdint>

// Calendar arithmetic shared by the syslog timestamp parsers (proto/syslog/event_time.h), the
// time zones (proto/syslog/local_zone.h) and the AWS ISO 8601 parser (aws/iso8601.h): pure,
// constexpr, no time zone and no clock. Tested in proto/syslog/local_zone_test.cc and
// util/calendar_test.cc.
namespace kinesyslog {

inline constexpr int64_t kMicrosPerSecond = 1'000'000;
inline constexpr int64_t kSecondsPerDay = 86'400;
inline constexpr int64_t kMicrosPerDay = kSecondsPerDay * kMicrosPerSecond;

// Division rounding toward negative infinity (C++ `/` truncates toward zero), so that instants
// before 1970 still split into a day and a non-negative time of day. Precondition: divisor > 0.
constexpr int64_t floorDiv(int64_t dividend, int64_t divisor) noexcept {
  const int64_t quotient = dividend / divisor;
  return (dividend % divisor < 0) ? quotient - 1 : quotient;
}

// Calendar arithmetic in the proleptic Gregorian calendar, on days counted from 1970-01-01.
// The year is regrouped to begin in March so that the leap day is the last day of its year; then
// a 400-year era always holds 146097 days, a year of an era 365 days plus its leap days, and the
// month lengths from March on follow the repeating pattern 31 30 31 30 31 that (153 * m + 2) / 5
// reproduces. Valid for any year whose day count fits comfortably in int64_t.
struct CivilDate {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Days from 1970-01-01 to the given date. Out-of-range days roll over (Feb 30 -> Mar 2), which
// callers rely on only for ordering; they validate dates with daysInMonth() first.
constexpr int64_t daysFromCivil(int64_t year, unsigned month, unsigned day) noexcept {
  const int64_t marchYear = month <= 2 ? year - 1 : year;
  const int64_t era = floorDiv(marchYear, 400);
  const int64_t yearOfEra = marchYear - era * 400;                     // 0..399
  const int64_t monthFromMarch = month > 2 ? month - 3 : month + 9;    // Mar = 0 .. Feb = 11
  const int64_t dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1;  // 0..365
  const int64_t dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
  // 719468 days separate 0000-03-01 (the start of era 0) from 1970-01-01.
  return era * 146097 + dayOfEra - 719468;
}

constexpr CivilDate civilFromDays(int64_t days) noexcept {
  const int64_t shifted = days + 719468;
  const int64_t era = floorDiv(shifted, 146097);
  const int64_t dayOfEra = shifted - era * 146097;  // 0..146096
  // Invert dayOfEra = 365 y + y/4 - y/100 (+ y/400 at the era's last day) for the year of era.
  const int64_t yearOfEra =
      (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;  // 0..399
  const int64_t dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
  const int64_t monthFromMarch = (5 * dayOfYear + 2) / 153;  // Mar = 0 .. Feb = 11
  const auto day = static_cast<unsigned>(dayOfYear - (153 * monthFromMarch + 2) / 5 + 1);
  const auto month =
      static_cast<unsigned>(monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9);
  const int64_t year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return CivilDate{year, month, day};
}

constexpr bool isLeapYear(int64_t year) noexcept {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

// Precondition: month in 1..12.
constexpr unsigned daysInMonth(int64_t year, unsigned month) noexcept {
  constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && isLeapYear(year) ? 29 : kDays[month - 1];
}

}  // namespace kinesyslog
