#include "proto/syslog/event_time.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace kinesyslog::syslog {
namespace {

// UTC wall time as micros, through libc's calendar (an oracle independent of ours).
int64_t utc(int year, int month, int day, int hour, int minute, int second, int64_t micros = 0) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm)) * kMicrosPerSecond + micros;
}

constexpr int64_t kHour = 3600 * kMicrosPerSecond;

class EventTimeTest : public ::testing::Test {
 protected:
  static LocalZone zone(std::string_view name) {
    std::optional<LocalZone> found = LocalZone::find(name);
    EXPECT_TRUE(found.has_value()) << name;
    return found ? *found : LocalZone::utc();
  }

  // Parses from an exactly sized heap copy, so that AddressSanitizer sees any read past the end.
  static std::optional<int64_t> parse(std::string_view message, int64_t receive,
                                      const LocalZone& zone) {
    std::unique_ptr<char[]> copy(new char[message.size() + 1]);
    std::memcpy(copy.get(), message.data(), message.size());
    return parseEventTimeMicros(std::string_view(copy.get(), message.size()), receive, zone);
  }
  std::optional<int64_t> parse(std::string_view message) const {
    return parse(message, receive_, utc_);
  }
  std::optional<int64_t> parseIn(std::string_view message, const LocalZone& zone) const {
    return parse(message, receive_, zone);
  }
  std::optional<int64_t> parseAt(std::string_view message, int64_t receive) const {
    return parse(message, receive, utc_);
  }

  const LocalZone utc_ = LocalZone::utc();
  const LocalZone berlin_ = zone("Europe/Berlin");
  const LocalZone newYork_ = zone("America/New_York");
  const int64_t receive_ = utc(2026, 6, 15, 12, 0, 0);
};

// --- RFC 5424 -----------------------------------------------------------------------------------

// Each thread keeps the last `YYYY-MM-DDThh:mm:ss` it read. Every stamp here is read once on a
// thread of its own (nothing kept) and once in a sequence on one thread where the stamp before
// shares its first 19 bytes; both must agree, including the failures, the leap second and the
// offsets and zones after the kept part.
TEST_F(EventTimeTest, AStampReadAfterOneOfTheSameSecondGivesWhatItGivesAlone) {
  const std::vector<std::pair<std::string, const LocalZone*>> stamps = {
      {"<13>1 2026-06-15T12:00:01.123456Z host app - - -", &utc_},
      {"<13>1 2026-06-15T12:00:01.123457Z host", &utc_},
      {"<13>1 2026-06-15T12:00:01.9999996+02:00 host", &utc_},
      {"<13>1 2026-06-15T12:00:01-05:30 host", &utc_},
      {"<13>1 2026-06-15T12:00:01 host", &berlin_},
      {"<13>1 2026-06-15T12:00:01 host", &newYork_},
      {"<13>1 2026-06-15T12:00:01. host", &utc_},       // a '.' without digits: no time
      {"<13>1 2026-06-15T12:00:01+24:00 host", &utc_},  // a bad offset: no time
      {"<13>1 2026-06-15T12:00:01Zhost", &utc_},        // no field end: no time
      {"<13>1 2026-06-15t12:00:01Z host", &utc_},       // lowercase t: other bytes, same time
      {"<13>1 2016-12-31T23:59:60.5Z host", &utc_},     // a leap second, never kept
      {"<13>1 2016-12-31T23:59:60Z host", &utc_},
      {"<13>1 2016-12-31T23:59:59.5Z host", &utc_},
      {"<13>1 2016-12-31T23:59:59.25Z host", &utc_},
      {"<13>2016-12-31T23:59:59.25Z host", &utc_},  // without the version
      {"<13>1 2016-12-31T23:59:5", &utc_},          // shorter than the kept part
      {"<13>1 2016-02-30T23:59:59Z host", &utc_},   // no such day
      {"<13>1 2016-02-30T23:59:59Z host", &utc_},
      {"<13>1 2026-06-15T12:00:01.5Z host", &utc_},
  };
  std::vector<std::optional<int64_t>> alone;
  for (const auto& [stamp, zone] : stamps) {
    std::optional<int64_t> value;
    std::thread([&, zone = zone, stamp = stamp] { value = parse(stamp, receive_, *zone); }).join();
    alone.push_back(value);
  }
  std::vector<std::optional<int64_t>> inSequence;
  std::thread([&] {
    for (const auto& [stamp, zone] : stamps) inSequence.push_back(parse(stamp, receive_, *zone));
  }).join();
  for (size_t i = 0; i < stamps.size(); ++i) {
    EXPECT_EQ(inSequence[i], alone[i]) << stamps[i].first;
  }
  // The cases are what they claim to be.
  EXPECT_EQ(alone[0], utc(2026, 6, 15, 12, 0, 1, 123'456));
  EXPECT_EQ(alone[3], utc(2026, 6, 15, 17, 30, 1));
  EXPECT_EQ(alone[4], utc(2026, 6, 15, 10, 0, 1));
  EXPECT_EQ(alone[5], utc(2026, 6, 15, 16, 0, 1));
  EXPECT_FALSE(alone[6].has_value());
  EXPECT_FALSE(alone[7].has_value());
  EXPECT_FALSE(alone[8].has_value());
  EXPECT_EQ(alone[9], utc(2026, 6, 15, 12, 0, 1));
  EXPECT_EQ(alone[10], utc(2016, 12, 31, 23, 59, 59, 999'999));
  EXPECT_EQ(alone[12], utc(2016, 12, 31, 23, 59, 59, 500'000));
  EXPECT_FALSE(alone[15].has_value());
  EXPECT_FALSE(alone[16].has_value());
}

TEST_F(EventTimeTest, DesignSample) {
  const auto t =
      parse("<13>1 2018-02-21T21:07:50.239881+00:00 host.example.com user 4326 - - Hello");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, 1519247270239881);
  EXPECT_EQ(roundMicrosToMillis(*t), 1519247270240);
}

TEST_F(EventTimeTest, Rfc5424WithAndWithoutFraction) {
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50Z host"), utc(2018, 2, 21, 21, 7, 50));
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50.5Z host"), utc(2018, 2, 21, 21, 7, 50, 500000));
  EXPECT_EQ(parse("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 -"),
            utc(2003, 10, 11, 22, 14, 15, 3000));
}

TEST_F(EventTimeTest, Rfc5424Offsets) {
  // RFC 5424 §6.2.3.1 examples.
  EXPECT_EQ(parse("<13>1 1985-04-12T23:20:50.52Z -"), utc(1985, 4, 12, 23, 20, 50, 520000));
  EXPECT_EQ(parse("<13>1 1985-04-12T19:20:50.52-04:00 -"), utc(1985, 4, 12, 23, 20, 50, 520000));
  EXPECT_EQ(parse("<13>1 2003-08-24T05:14:15.000003-07:00 -"), utc(2003, 8, 24, 12, 14, 15, 3));
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50+05:30 h"), utc(2018, 2, 21, 15, 37, 50));
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50+23:59 h"), utc(2018, 2, 20, 21, 8, 50));
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50-23:59 h"), utc(2018, 2, 22, 21, 6, 50));
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50+00:00 h"), utc(2018, 2, 21, 21, 7, 50));
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50-00:00 h"), utc(2018, 2, 21, 21, 7, 50));
  // An offset is never read in the local zone.
  EXPECT_EQ(parseIn("<13>1 2018-02-21T21:07:50-05:00 h", berlin_), utc(2018, 2, 22, 2, 7, 50));
}

TEST_F(EventTimeTest, LowercaseTAndZ) {
  EXPECT_EQ(parse("<13>1 2018-02-21t21:07:50z h"), utc(2018, 2, 21, 21, 7, 50));
  EXPECT_EQ(parse("<13>1 2018-02-21t21:07:50.1+01:00 h"), utc(2018, 2, 21, 20, 7, 50, 100000));
}

TEST_F(EventTimeTest, FractionOfOneToNineDigits) {
  const int64_t base = utc(2018, 2, 21, 21, 7, 50);
  const std::pair<const char*, int64_t> cases[] = {
      {"2", 200000},           {"23", 230000},        {"239", 239000},       {"2398", 239800},
      {"23988", 239880},       {"239881", 239881},    {"000001", 1},         {"2398814", 239881},
      {"2398815", 239882},     {"239881499", 239881}, {"239881500", 239882}, {"999999", 999999},
      {"123456789012", 123457}};
  for (const auto& [digits, micros] : cases) {
    const std::string message = std::string("<13>1 2018-02-21T21:07:50.") + digits + "Z host";
    EXPECT_EQ(parse(message), base + micros) << message;
  }
  // Rounding up from .9999995 carries into the next second (and day, month, year).
  EXPECT_EQ(parse("<13>1 2018-12-31T23:59:59.9999995Z h"), utc(2019, 1, 1, 0, 0, 0));
}

TEST_F(EventTimeTest, SubMicrosecondDigitsRoundToMillisecondsOnce) {
  const int64_t base = utc(2018, 2, 21, 21, 7, 50);
  const auto millis = [&](const char* fraction) {
    const std::string message = std::string("<13>1 2018-02-21T21:07:50.") + fraction + "Z h";
    const auto t = parse(message);
    EXPECT_TRUE(t.has_value()) << message;
    return t ? roundMicrosToMillis(*t) - base / 1000 : -1;
  };
  EXPECT_EQ(millis("239881"), 240);
  EXPECT_EQ(millis("2395"), 240);
  EXPECT_EQ(millis("2394999"), 239);
  EXPECT_EQ(millis("239499999"), 239);
  EXPECT_EQ(millis("2394995"), 239);
  EXPECT_EQ(millis("2395000"), 240);
  EXPECT_EQ(millis("2389995"), 239);
  // The half-millisecond guard is the only place a result is not the nearest microsecond.
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50.2394996Z h"), base + 239499);
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50.2384996Z h"), base + 238499);
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50.2384986Z h"), base + 238499);
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50.2384995Z h"), base + 238499);
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50.2385995Z h"), base + 238600);
}

TEST_F(EventTimeTest, NilValueHasNoTimestamp) {
  EXPECT_EQ(parse("<13>1 - host app - - - message"), std::nullopt);
  EXPECT_EQ(parse("<13>1 -"), std::nullopt);
  EXPECT_EQ(parse("<13>1 "), std::nullopt);
  EXPECT_EQ(parse("<13>1"), std::nullopt);
}

TEST_F(EventTimeTest, NilValueIsAValidRfc5424HeaderWithoutTime) {
  EXPECT_TRUE(hasNilTimestamp("<13>1 - host app - - - message"));
  EXPECT_TRUE(hasNilTimestamp("<0>1 - - - - - -"));
  EXPECT_TRUE(hasNilTimestamp("<191>1 -"));
  EXPECT_FALSE(hasNilTimestamp("1 - host app - - - no PRI"));
  EXPECT_FALSE(hasNilTimestamp("<13>1 -host"));
  EXPECT_FALSE(hasNilTimestamp("<13>1 --"));
  EXPECT_FALSE(hasNilTimestamp("<13>2 - host"));
  EXPECT_FALSE(hasNilTimestamp("<13>1  - host"));
  EXPECT_FALSE(hasNilTimestamp("<13>1 "));
  EXPECT_FALSE(hasNilTimestamp("<13>-"));
  EXPECT_FALSE(hasNilTimestamp("<192>1 - host"));
  EXPECT_FALSE(hasNilTimestamp("<13>1 2018-02-21T21:07:50Z h"));
}

TEST_F(EventTimeTest, Rfc3339WithoutVersion) {
  EXPECT_EQ(parse("<13>2018-02-21T21:07:50.239881+00:00 host tag: msg"), 1519247270239881);
  EXPECT_EQ(parse("<13>2018-02-21T21:07:50+01:00 host tag: msg"), utc(2018, 2, 21, 20, 7, 50));
  EXPECT_EQ(parse("2018-02-21T21:07:50Z host tag: no PRI at all"), utc(2018, 2, 21, 21, 7, 50));
}

TEST_F(EventTimeTest, Rfc3339WithoutOffsetIsLocalTime) {
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50.5 h"), utc(2018, 2, 21, 21, 7, 50, 500000));
  EXPECT_EQ(parseIn("<13>1 2018-02-21T21:07:50.5 h", berlin_), utc(2018, 2, 21, 20, 7, 50, 500000));
  EXPECT_EQ(parseIn("<13>1 2018-07-21T21:07:50 h", berlin_), utc(2018, 7, 21, 19, 7, 50));
  EXPECT_EQ(parseIn("<13>2018-07-21T21:07:50", berlin_), utc(2018, 7, 21, 19, 7, 50));
  EXPECT_EQ(parseIn("<13>1 2024-01-15T07:00:00 h", newYork_), utc(2024, 1, 15, 12, 0, 0));
  EXPECT_EQ(parseIn("<13>1 2024-07-15T08:00:00 h", newYork_), utc(2024, 7, 15, 12, 0, 0));
  // DST start: 02:30 does not exist and is read with the earlier offset, -05:00.
  EXPECT_EQ(parseIn("<13>1 2024-03-10T02:30:00 h", newYork_), utc(2024, 3, 10, 7, 30, 0));
  // DST end: 01:30 happens twice; the first (-04:00) is taken.
  EXPECT_EQ(parseIn("<13>1 2024-11-03T01:30:00 h", newYork_), utc(2024, 11, 3, 5, 30, 0));
}

TEST_F(EventTimeTest, LeapSecondIsTheLastMicrosecondOfItsMinute) {
  const int64_t end = utc(2017, 1, 1, 0, 0, 0);
  EXPECT_EQ(parse("<13>1 2016-12-31T23:59:60Z h"), end - 1);
  EXPECT_EQ(parse("<13>1 2016-12-31T23:59:60.5Z h"), end - 1);
  EXPECT_EQ(roundMicrosToMillis(*parse("<13>1 2016-12-31T23:59:60Z h")), end / 1000);
  EXPECT_EQ(parse("<13>1 2016-12-31T18:59:60-05:00 h"), end - 1);
  EXPECT_EQ(parseAt("<13>Dec 31 23:59:60 h", utc(2016, 12, 31, 23, 59, 0)), end - 1);
  EXPECT_EQ(parse("<13>1 2016-12-31T23:59:61Z h"), std::nullopt);
}

TEST_F(EventTimeTest, Rfc3339DatesMustExist) {
  EXPECT_EQ(parse("<13>1 2024-02-29T00:00:00Z h"), utc(2024, 2, 29, 0, 0, 0));
  EXPECT_EQ(parse("<13>1 2000-02-29T00:00:00Z h"), utc(2000, 2, 29, 0, 0, 0));
  EXPECT_EQ(parse("<13>1 2023-02-29T00:00:00Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 1900-02-29T00:00:00Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 2024-02-30T00:00:00Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 2024-04-31T00:00:00Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 2024-04-30T00:00:00Z h"), utc(2024, 4, 30, 0, 0, 0));
  EXPECT_EQ(parse("<13>1 2024-12-31T00:00:00Z h"), utc(2024, 12, 31, 0, 0, 0));
  EXPECT_EQ(parse("<13>1 2024-12-32T00:00:00Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 2024-13-01T00:00:00Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 2024-00-01T00:00:00Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 2024-01-00T00:00:00Z h"), std::nullopt);
}

TEST_F(EventTimeTest, Rfc3339InvalidTimesAndShapes) {
  for (const char* message : {
           "<13>1 2024-01-01T24:00:00Z h",       // hour 24
           "<13>1 2024-01-01T23:60:00Z h",       // minute 60
           "<13>1 2024-01-01T23:00:00+24:00 h",  // offset hour 24
           "<13>1 2024-01-01T23:00:00+05:60 h",  // offset minute 60
           "<13>1 2024-01-01T23:00:00+0500 h",   // basic-format offset
           "<13>1 2024-01-01T23:00:00+05 h",
           "<13>1 2024-01-01 23:00:00Z h",   // space for T
           "<13>1 2024-01-01T23:00:00.Z h",  // empty fraction
           "<13>1 2024-01-01T23:00:00,5Z h",
           "<13>1 2024-01-01T23:00:00Zh",  // not followed by a space
           "<13>1 2024-01-01T23:00:00Z\th",     "<13>1 2024-01-01T23:00:00X h",
           "<13>1 24-01-01T23:00:00Z h",        "<13>1 2024-1-01T23:00:00Z h",
           "<13>1 2024-01-01T3:00:00Z h",       "<13>1 +2024-01-01T23:00:00Z h",
           "<13>1 2024/01/01T23:00:00Z h",
           "<13>1  2024-01-01T23:00:00Z h",  // two spaces
           "<13>2 2024-01-01T23:00:00Z h",   // version 2 does not exist
           "<13>12024-01-01T23:00:00Z h",
       }) {
    EXPECT_EQ(parse(message), std::nullopt) << message;
  }
}

TEST_F(EventTimeTest, YearsAfter9999InUtcAreRefused) {
  EXPECT_EQ(parse("<13>1 9999-12-31T23:59:59.999999Z h"),
            daysFromCivil(10000, 1, 1) * kMicrosPerDay - 1);
  EXPECT_EQ(parse("<13>1 9999-12-31T23:59:59.9999995Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 9999-12-31T23:30:00-01:00 h"), std::nullopt);
}

// docs/design.md "Events": a header time before 1970-01-01T00:00:00Z is not valid, in UTC.
TEST_F(EventTimeTest, Rfc5424TimesBefore1970AreNotValid) {
  EXPECT_EQ(parse("<13>1 1970-01-01T00:00:00Z h"), 0);
  EXPECT_EQ(parse("<13>1 1970-01-01T00:00:00.000001Z h"), 1);
  EXPECT_EQ(parse("<13>1 1969-12-31T23:59:59.999999Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 1969-12-31T23:59:59.9999995Z h"), 0);  // rounds up into 1970
  EXPECT_EQ(parse("<13>1 1969-12-31T23:59:59.5Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 0000-01-01T00:00:00Z h"), std::nullopt);
  EXPECT_EQ(parse("<13>1969-12-31T23:59:59Z h"), std::nullopt);
  // The offset decides: 1970 local time can be 1969 in UTC, and the other way round.
  EXPECT_EQ(parse("<13>1 1970-01-01T00:30:00+01:00 h"), std::nullopt);
  EXPECT_EQ(parse("<13>1 1969-12-31T19:00:00-05:00 h"), 0);
  EXPECT_EQ(parseIn("<13>1 1970-01-01T00:59:59 h", berlin_), std::nullopt);  // CET, +01:00
  EXPECT_EQ(parseIn("<13>1 1970-01-01T01:00:00 h", berlin_), 0);
}

// --- RFC 3164 -----------------------------------------------------------------------------------

TEST_F(EventTimeTest, Rfc3164Days) {
  const int64_t feb3 = utc(2026, 2, 3, 4, 5, 6);
  EXPECT_EQ(parse("<13>Feb  3 04:05:06 host tag: msg"), feb3);
  EXPECT_EQ(parse("<13>Feb 03 04:05:06 host tag: msg"), feb3);
  EXPECT_EQ(parse("<13>Feb 3 04:05:06 host tag: msg"), feb3);
  EXPECT_EQ(parse("<13>Feb  3 04:05:06"), feb3);
  EXPECT_EQ(parse("Feb  3 04:05:06 host no PRI"), feb3);
  EXPECT_EQ(parse("<13>Dec 13 23:59:59 host"), utc(2025, 12, 13, 23, 59, 59));
  EXPECT_EQ(parse("<13>Jun 17 12:00:00 host"), utc(2026, 6, 17, 12, 0, 0));  // 2 days ahead
  EXPECT_EQ(parse("<13>Jun 17 12:00:01 host"), utc(2025, 6, 17, 12, 0, 1));
}

TEST_F(EventTimeTest, Rfc3164EveryMonth) {
  const char* const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const int64_t receive = utc(2026, 12, 31, 0, 0, 0);
  for (int month = 1; month <= 12; ++month) {
    const std::string message = std::string("<13>") + names[month - 1] + " 10 10:00:00 h";
    EXPECT_EQ(parseAt(message, receive), utc(2026, month, 10, 10, 0, 0)) << message;
  }
}

TEST_F(EventTimeTest, Rfc3164Fraction) {
  EXPECT_EQ(parse("<13>Feb  3 04:05:06.123 host"), utc(2026, 2, 3, 4, 5, 6, 123000));
  EXPECT_EQ(parse("<13>Feb  3 04:05:06.123456 host"), utc(2026, 2, 3, 4, 5, 6, 123456));
  EXPECT_EQ(parse("<13>Feb  3 04:05:06. host"), std::nullopt);
}

TEST_F(EventTimeTest, Rfc3164InTheConfiguredZone) {
  EXPECT_EQ(parseIn("<13>Feb  3 04:05:06 host", berlin_), utc(2026, 2, 3, 3, 5, 6));
  EXPECT_EQ(parseIn("<13>Jul  4 12:00:00 host", berlin_), utc(2025, 7, 4, 10, 0, 0));
  // 2026-03-08 is the day New York starts DST.
  EXPECT_EQ(parseIn("<13>Mar  7 12:00:00 host", newYork_), utc(2026, 3, 7, 17, 0, 0));
  EXPECT_EQ(parseIn("<13>Mar  8 12:00:00 host", newYork_), utc(2026, 3, 8, 16, 0, 0));
  EXPECT_EQ(parseIn("<13>Mar  9 12:00:00 host", newYork_), utc(2026, 3, 9, 16, 0, 0));
}

// docs/design.md "Events": the latest of the year after the receive year, the receive year and the
// year before in which the date is at most 2 days after the receive time.
TEST_F(EventTimeTest, Rfc3164NewYearBeforeMidnightInUtc) {
  const int64_t receive = utc(2026, 12, 31, 23, 59, 0);
  // A sender 90 s ahead has already reached the new year.
  EXPECT_EQ(parseAt("<13>Jan  1 00:00:30 h", receive), utc(2027, 1, 1, 0, 0, 30));
  EXPECT_EQ(roundMicrosToMillis(*parseAt("<13>Jan  1 00:00:30 h", receive)), 1798761630000);
  // Up to exactly two days ahead, then the year before.
  EXPECT_EQ(parseAt("<13>Jan  2 23:59:00 h", receive), utc(2027, 1, 2, 23, 59, 0));
  EXPECT_EQ(parseAt("<13>Jan  2 23:59:01 h", receive), utc(2026, 1, 2, 23, 59, 1));
  // A date weeks ahead is last year's (here: this year's January, the receive year).
  EXPECT_EQ(parseAt("<13>Jan 20 12:00:00 h", receive), utc(2026, 1, 20, 12, 0, 0));
  // Dec 31 itself, before and after the receive time, stays in the receive year.
  EXPECT_EQ(parseAt("<13>Dec 31 23:58:59 h", receive), utc(2026, 12, 31, 23, 58, 59));
  EXPECT_EQ(parseAt("<13>Dec 31 23:59:59 h", receive), utc(2026, 12, 31, 23, 59, 59));
}

TEST_F(EventTimeTest, Rfc3164NewYearAfterMidnightInUtc) {
  const int64_t receive = utc(2027, 1, 1, 0, 0, 5);
  // A sender a few seconds behind is still in the old year.
  EXPECT_EQ(parseAt("<13>Dec 31 23:59:59 h", receive), utc(2026, 12, 31, 23, 59, 59));
  EXPECT_EQ(parseAt("<13>Dec 31 23:59:58 h", receive), utc(2026, 12, 31, 23, 59, 58));
  EXPECT_EQ(parseAt("<13>Jan  1 00:00:04 h", receive), utc(2027, 1, 1, 0, 0, 4));
  EXPECT_EQ(parseAt("<13>Jan  1 00:01:00 h", receive), utc(2027, 1, 1, 0, 1, 0));
  EXPECT_EQ(parseAt("<13>Jan  3 00:00:05 h", receive), utc(2027, 1, 3, 0, 0, 5));
  EXPECT_EQ(parseAt("<13>Jan  3 00:00:06 h", receive), utc(2026, 1, 3, 0, 0, 6));
}

TEST_F(EventTimeTest, Rfc3164WeeksAheadIsLastYear) {
  const int64_t receive = utc(2026, 6, 15, 12, 0, 0);
  EXPECT_EQ(parseAt("<13>Jul 10 12:00:00 h", receive), utc(2025, 7, 10, 12, 0, 0));
  EXPECT_EQ(parseAt("<13>Jun 30 12:00:00 h", receive), utc(2025, 6, 30, 12, 0, 0));
  EXPECT_EQ(parseAt("<13>Jun 14 12:00:00 h", receive), utc(2026, 6, 14, 12, 0, 0));
}

// New Year in the --rfc3164-timezone zone, not in UTC: 2027-01-01T04:59Z is 23:59 on Dec 31
// in New York (-05:00), and 2027-01-01T05:00:05Z five seconds after its midnight.
TEST_F(EventTimeTest, Rfc3164NewYearInAZoneWestOfUtc) {
  const int64_t before = utc(2027, 1, 1, 4, 59, 0);
  EXPECT_EQ(parse("<13>Jan  1 00:00:30 h", before, newYork_), utc(2027, 1, 1, 5, 0, 30));
  EXPECT_EQ(parse("<13>Dec 31 23:58:00 h", before, newYork_), utc(2027, 1, 1, 4, 58, 0));
  const int64_t after = utc(2027, 1, 1, 5, 0, 5);
  EXPECT_EQ(parse("<13>Dec 31 23:59:59 h", after, newYork_), utc(2027, 1, 1, 4, 59, 59));
  EXPECT_EQ(parse("<13>Jan  1 00:00:04 h", after, newYork_), utc(2027, 1, 1, 5, 0, 4));
  // The same instants read in UTC fall on the other side of that zone's New Year.
  EXPECT_EQ(parseAt("<13>Dec 31 23:59:59 h", before), utc(2026, 12, 31, 23, 59, 59));
  EXPECT_EQ(parseAt("<13>Jan  1 00:00:30 h", before), utc(2027, 1, 1, 0, 0, 30));
}

TEST_F(EventTimeTest, Rfc3164NewYearInAZoneEastOfUtc) {
  // 2026-12-31T22:59Z is 23:59 in Berlin (+01:00).
  const int64_t before = utc(2026, 12, 31, 22, 59, 0);
  EXPECT_EQ(parse("<13>Jan  1 00:00:30 h", before, berlin_), utc(2026, 12, 31, 23, 0, 30));
  const int64_t after = utc(2026, 12, 31, 23, 0, 5);
  EXPECT_EQ(parse("<13>Dec 31 23:59:59 h", after, berlin_), utc(2026, 12, 31, 22, 59, 59));
}

TEST_F(EventTimeTest, Rfc3164TwoDayBoundaryIsExact) {
  const int64_t receive = utc(2026, 12, 29, 0, 0, 0);
  // Exactly two days ahead keeps the year; a microsecond more is last year's date.
  EXPECT_EQ(parseAt("<13>Dec 31 00:00:00 h", receive), utc(2026, 12, 31, 0, 0, 0));
  EXPECT_EQ(parseAt("<13>Dec 31 00:00:00.000001 h", receive), utc(2025, 12, 31, 0, 0, 0, 1));
  // The same inside a year.
  const int64_t march = utc(2026, 3, 1, 0, 0, 0);
  EXPECT_EQ(parseAt("<13>Mar  3 00:00:00 h", march), utc(2026, 3, 3, 0, 0, 0));
  EXPECT_EQ(parseAt("<13>Mar  3 00:00:00.000001 h", march), utc(2025, 3, 3, 0, 0, 0, 1));
  EXPECT_EQ(parseAt("<13>Mar  1 00:00:00 h", march), march);
  EXPECT_EQ(parseAt("<13>Feb 28 23:59:59 h", march), march - kMicrosPerSecond);
}

TEST_F(EventTimeTest, Rfc3164YearInferenceUsesLocalTime) {
  // 2026-12-31T23:30Z is 2027-01-01 00:30 in Berlin: a `Dec 31 23:50` message is 40 minutes
  // old there, while in UTC it would be 20 minutes ahead, both in 2026.
  const int64_t receive = utc(2026, 12, 31, 23, 30, 0);
  EXPECT_EQ(parse("<13>Dec 31 23:50:00 h", receive, berlin_), utc(2026, 12, 31, 22, 50, 0));
  EXPECT_EQ(parse("<13>Jan  1 00:20:00 h", receive, berlin_), utc(2026, 12, 31, 23, 20, 0));
  EXPECT_EQ(parse("<13>Jan  2 23:59:59 h", receive, berlin_), utc(2027, 1, 2, 22, 59, 59));
  EXPECT_EQ(parse("<13>Jan  3 00:30:00 h", receive, berlin_), utc(2027, 1, 2, 23, 30, 0));
  EXPECT_EQ(parse("<13>Jan  3 00:30:01 h", receive, berlin_), utc(2026, 1, 2, 23, 30, 1));
}

TEST_F(EventTimeTest, Rfc3164Feb29SkipsYearsWithoutIt) {
  // Just before 2028's Feb 29: the year after (2029) has none, 2028 is 12 hours ahead.
  EXPECT_EQ(parseAt("<13>Feb 29 00:00:00 h", utc(2028, 2, 28, 12, 0, 0)),
            utc(2028, 2, 29, 0, 0, 0));
  // Received on Feb 29 and Mar 1 2029: 2030 and 2029 have no Feb 29, 2028 does.
  EXPECT_EQ(parseAt("<13>Feb 29 23:59:59 h", utc(2029, 3, 1, 0, 0, 0)),
            utc(2028, 2, 29, 23, 59, 59));
  // At New Year before a leap year, Feb 29 is weeks ahead; no earlier year has one.
  EXPECT_EQ(parseAt("<13>Feb 29 00:00:00 h", utc(2027, 12, 31, 23, 59, 0)), std::nullopt);
  // Late on Feb 28 of a year before a leap year: 2028's Feb 29 is a year ahead.
  EXPECT_EQ(parseAt("<13>Feb 29 00:00:30 h", utc(2027, 2, 28, 23, 59, 0)), std::nullopt);
  // New Year into a leap year still works for other dates.
  EXPECT_EQ(parseAt("<13>Jan  1 00:00:30 h", utc(2027, 12, 31, 23, 59, 0)),
            utc(2028, 1, 1, 0, 0, 30));
}

TEST_F(EventTimeTest, Rfc3164Before1970IsNotValid) {
  // A relay clock at the epoch: Dec 31 is 1969, not valid; Jan 1 is 1970.
  const int64_t epoch = utc(1970, 1, 1, 0, 0, 10);
  EXPECT_EQ(parseAt("<13>Dec 31 23:59:59 h", epoch), std::nullopt);
  EXPECT_EQ(parseAt("<13>Jan  1 00:00:00 h", epoch), 0);
  EXPECT_EQ(parseAt("<13>Jan  1 00:00:05 h", epoch), 5 * kMicrosPerSecond);
  // In Berlin (+01:00 in 1970) 00:30 on Jan 1 1970 is still 1969 in UTC.
  const int64_t berlinEpoch = utc(1970, 1, 1, 0, 30, 0);
  EXPECT_EQ(parse("<13>Jan  1 00:30:00 h", berlinEpoch, berlin_), std::nullopt);
  EXPECT_EQ(parse("<13>Jan  1 01:00:00 h", berlinEpoch, berlin_), 0);
  // A receive time before 1970 (a clock never set) makes every RFC 3164 time invalid.
  EXPECT_EQ(parseAt("<13>Jun  1 00:00:00 h", utc(1969, 6, 1, 0, 0, 0)), std::nullopt);
}

TEST_F(EventTimeTest, Rfc3164Feb29) {
  EXPECT_EQ(parseAt("<13>Feb 29 12:00:00 h", utc(2028, 6, 1, 0, 0, 0)), utc(2028, 2, 29, 12, 0, 0));
  EXPECT_EQ(parseAt("<13>Feb 29 12:00:00 h", utc(2028, 2, 29, 0, 0, 0)),
            utc(2028, 2, 29, 12, 0, 0));
  EXPECT_EQ(parseAt("<13>Feb 29 12:00:00 h", utc(2027, 6, 1, 0, 0, 0)), std::nullopt);
  EXPECT_EQ(parseAt("<13>Feb 29 12:00:00 h", utc(2026, 3, 1, 0, 0, 0)), std::nullopt);
  // In January 2029 a Feb 29 is more than two days ahead, so it is from 2028, a leap year.
  EXPECT_EQ(parseAt("<13>Feb 29 12:00:00 h", utc(2029, 1, 15, 0, 0, 0)),
            utc(2028, 2, 29, 12, 0, 0));
}

TEST_F(EventTimeTest, Rfc3164Invalid) {
  for (const char* message : {
           "<13>Feb 30 12:00:00 h",  "<13>Apr 31 12:00:00 h",  "<13>Feb  0 12:00:00 h",
           "<13>Feb 00 12:00:00 h",  "<13>Jan 32 12:00:00 h",  "<13>Feb  3 24:00:00 h",
           "<13>Feb  3 23:60:00 h",  "<13>Feb  3 23:00:61 h",  "<13>Foo  3 12:00:00 h",
           "<13>feb  3 12:00:00 h",  "<13>FEB  3 12:00:00 h",  "<13>Feb   3 12:00:00 h",
           "<13>Feb  03 12:00:00 h", "<13>Feb 3  12:00:00 h",  "<13>Feb  3 12:00 h",
           "<13>Feb  3 12:00:00x h", "<13>Feb  3 12:00:00:00", "<13>Feb  3 1:00:00 h",
           "<13> Feb  3 12:00:00 h", "<13>Feb-03 12:00:00 h",  "<13>Feb 123 12:00:00 h",
           "<13>Febr 3 12:00:00 h",  "<13>Feb  3T12:00:00 h",  "<13>Feb  x 12:00:00 h",
       }) {
    EXPECT_EQ(parse(message), std::nullopt) << message;
  }
}

// --- PRI
// ------------------------------------------------------------------------------------------

TEST_F(EventTimeTest, PriBoundsDecideWhetherTheHeaderIsRead) {
  const int64_t t = utc(2018, 2, 21, 21, 7, 50);
  EXPECT_EQ(parse("<0>1 2018-02-21T21:07:50Z h"), t);
  EXPECT_EQ(parse("<191>1 2018-02-21T21:07:50Z h"), t);
  EXPECT_EQ(parse("<013>1 2018-02-21T21:07:50Z h"), t);
  EXPECT_EQ(parse("1 2018-02-21T21:07:50Z h"), t);  // no PRI
  EXPECT_EQ(parse("<192>1 2018-02-21T21:07:50Z h"), std::nullopt);
  EXPECT_EQ(parse("<>1 2018-02-21T21:07:50Z h"), std::nullopt);
  EXPECT_EQ(parse("<1234>1 2018-02-21T21:07:50Z h"), std::nullopt);
  EXPECT_EQ(parse("<13 1 2018-02-21T21:07:50Z h"), std::nullopt);
  EXPECT_EQ(parse("<192>Feb  3 04:05:06 h"), std::nullopt);
  EXPECT_EQ(parse(""), std::nullopt);
  EXPECT_EQ(parse("<13>"), std::nullopt);
  EXPECT_EQ(parse("just some text"), std::nullopt);
}

TEST(SplitPriTest, Cases) {
  struct Case {
    std::string_view message;
    std::string_view pri;
    std::string_view rest;
  };
  const Case cases[] = {
      {"<13>hello", "<13>", "hello"},
      {"<0>", "<0>", ""},
      {"<0>x", "<0>", "x"},
      {"<7>1 2018", "<7>", "1 2018"},
      {"<191>x", "<191>", "x"},
      {"<013>x", "<013>", "x"},
      {"<000>x", "<000>", "x"},
      {"<192>x", "", "<192>x"},
      {"<999>x", "", "<999>x"},
      {"<>x", "", "<>x"},
      {"<1234>x", "", "<1234>x"},
      {"<13", "", "<13"},
      {"<", "", "<"},
      {"", "", ""},
      {"13>x", "", "13>x"},
      {"<1a>x", "", "<1a>x"},
      {"< 13>x", "", "< 13>x"},
      {"<-1>x", "", "<-1>x"},
      {"<+1>x", "", "<+1>x"},
      {" <13>x", "", " <13>x"},
  };
  for (const Case& c : cases) {
    const PriSplit split = splitPri(c.message);
    EXPECT_EQ(split.pri, c.pri) << c.message;
    EXPECT_EQ(split.rest, c.rest) << c.message;
    // Views into the message, never copies.
    EXPECT_EQ(split.rest.data() + split.rest.size(), c.message.data() + c.message.size());
    if (!split.pri.empty()) {
      EXPECT_EQ(split.pri.data(), c.message.data());
    }
  }
}

// --- Truncation
// -----------------------------------------------------------------------------------

TEST_F(EventTimeTest, EveryPrefixOfAValidHeaderIsSafe) {
  const std::pair<const char*, size_t> headers[] = {
      // message, length of the timestamp's end (prefixes from there on keep the full value)
      {"<13>1 2018-02-21T21:07:50.239881+00:00 host.example.com user 4326 - - Hello", 38},
      {"<13>1 2018-02-21T21:07:50.239881123-05:30 h", 41},
      {"<13>2018-02-21T21:07:50Z h", 24},
      {"<13>1 2018-02-21T21:07:50.5 h", 27},
      {"<13>Feb  3 04:05:06 host tag: msg", 19},
      {"<13>Feb 3 04:05:06.123 host", 22},
      {"Dec 31 23:59:60.999 h", 19},
  };
  for (const auto& [header, timestampEnd] : headers) {
    const std::string_view full(header);
    for (const LocalZone* zone : {&utc_, &berlin_}) {
      const auto expected = parseIn(full, *zone);
      ASSERT_TRUE(expected.has_value()) << header;
      for (size_t length = 0; length <= full.size(); ++length) {
        const std::string_view prefix = full.substr(0, length);
        const auto t = parseIn(prefix, *zone);
        if (length >= timestampEnd) {
          EXPECT_EQ(t, expected) << prefix;
        } else if (t) {
          char text[kRfc3339MicrosLength];
          EXPECT_EQ(formatRfc3339Micros(*t, text), kRfc3339MicrosLength);
        }
      }
    }
  }
  // A prefix is valid only where a shorter timestamp is complete, e.g. after a fraction digit.
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50.23"), utc(2018, 2, 21, 21, 7, 50, 230000));
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:50.239881+00:0"), std::nullopt);
  EXPECT_EQ(parse("<13>1 2018-02-21T21:07:5"), std::nullopt);
  EXPECT_EQ(parse("<13>Feb  3 04:05:0"), std::nullopt);
  EXPECT_EQ(parse("<13>Feb  3 04:05:06"), utc(2026, 2, 3, 4, 5, 6));
}

// --- Formatting and rounding
// ----------------------------------------------------------------------

std::string format(int64_t micros) {
  char text[kRfc3339MicrosLength];
  const size_t length = formatRfc3339Micros(micros, text);
  return std::string(text, length);
}

TEST(FormatTest, KnownValues) {
  EXPECT_EQ(format(0), "1970-01-01T00:00:00.000000+00:00");
  EXPECT_EQ(format(1519247270239881), "2018-02-21T21:07:50.239881+00:00");
  EXPECT_EQ(format(utc(2024, 2, 29, 23, 59, 59, 999999)), "2024-02-29T23:59:59.999999+00:00");
  EXPECT_EQ(format(-1), "1969-12-31T23:59:59.999999+00:00");
  EXPECT_EQ(format(std::numeric_limits<int64_t>::min()), "0000-01-01T00:00:00.000000+00:00");
  EXPECT_EQ(format(std::numeric_limits<int64_t>::max()), "9999-12-31T23:59:59.999999+00:00");
  EXPECT_EQ(format(0).size(), kRfc3339MicrosLength);
}

TEST(FormatTest, RandomTimesMatchLibcAndRoundTripThroughTheParser) {
  std::mt19937_64 random(1519247270);
  std::uniform_int_distribution<int64_t> anyTime(0, utc(9999, 12, 31, 23, 59, 59, 999999));
  const LocalZone zone = LocalZone::utc();
  for (int i = 0; i < 100000; ++i) {
    const int64_t micros = i == 0 ? 0 : anyTime(random);
    const std::string text = format(micros);
    const time_t seconds = static_cast<time_t>(micros / kMicrosPerSecond);
    std::tm tm{};
    ASSERT_NE(gmtime_r(&seconds, &tm), nullptr);
    char expected[64];
    std::snprintf(expected, sizeof expected, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(micros % kMicrosPerSecond));
    ASSERT_EQ(text, expected);
    ASSERT_EQ(parseEventTimeMicros("<13>1 " + text + " host", 0, zone), micros) << text;
    ASSERT_EQ(parseEventTimeMicros("<13>" + text, 0, zone), micros) << text;
  }
}

TEST(RoundTest, HalfUp) {
  const int64_t base = 1519247270000000;
  EXPECT_EQ(roundMicrosToMillis(base + 239881), 1519247270240);
  EXPECT_EQ(roundMicrosToMillis(base + 239500), 1519247270240);
  EXPECT_EQ(roundMicrosToMillis(base + 239499), 1519247270239);
  EXPECT_EQ(roundMicrosToMillis(base + 999500), 1519247271000);
  EXPECT_EQ(roundMicrosToMillis(0), 0);
  EXPECT_EQ(roundMicrosToMillis(499), 0);
  EXPECT_EQ(roundMicrosToMillis(500), 1);
  EXPECT_EQ(roundMicrosToMillis(1500), 2);
  // Before 1970, half up still means toward the future.
  EXPECT_EQ(roundMicrosToMillis(-1), 0);
  EXPECT_EQ(roundMicrosToMillis(-500), 0);
  EXPECT_EQ(roundMicrosToMillis(-501), -1);
  EXPECT_EQ(roundMicrosToMillis(-1500), -1);
  EXPECT_EQ(roundMicrosToMillis(std::numeric_limits<int64_t>::max()),
            std::numeric_limits<int64_t>::max() / 1000 + 1);
  EXPECT_EQ(roundMicrosToMillis(std::numeric_limits<int64_t>::min()),
            std::numeric_limits<int64_t>::min() / 1000 - 1);
}

}  // namespace
}  // namespace kinesyslog::syslog
