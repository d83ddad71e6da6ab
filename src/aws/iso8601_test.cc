#include "aws/iso8601.h"

#include <gtest/gtest.h>

namespace kinesyslog::aws {
namespace {

constexpr int64_t kSecond = 1'000'000;
// 2026-11-26T18:00:00Z
constexpr int64_t kExpiry = 1795716000 * kSecond;
// 2019-11-09T13:34:41Z, the Expiration of the STS documentation's examples.
constexpr int64_t kStsExpiry = 1573306481 * kSecond;

// The forms credential documents and AWS_CREDENTIAL_EXPIRATION use.
TEST(ParseIso8601MicrosTest, ExpirationFormats) {
  EXPECT_EQ(parseIso8601Micros("2026-11-26T18:00:00Z"), kExpiry);
  EXPECT_EQ(parseIso8601Micros("2026-11-26T18:00:00.5Z"), kExpiry + kSecond / 2);
  EXPECT_EQ(parseIso8601Micros("2026-11-26T18:00:00.123456789Z"), kExpiry + 123456);
  EXPECT_EQ(parseIso8601Micros("2026-11-26T20:00:00+02:00"), kExpiry);
  EXPECT_EQ(parseIso8601Micros("2026-11-26T13:30:00-0430"), kExpiry);
  EXPECT_EQ(parseIso8601Micros("2026-11-26T19:00:00+01"), kExpiry);
  EXPECT_EQ(parseIso8601Micros("2026-11-26T18:00:00"), kExpiry);
  EXPECT_EQ(parseIso8601Micros("2026-11-26 18:00:00z"), kExpiry);
  EXPECT_EQ(parseIso8601Micros("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parseIso8601Micros("1969-12-31T23:59:59Z"), -kSecond);
  EXPECT_EQ(parseIso8601Micros("2024-02-29T00:00:00Z"), 1709164800 * kSecond);
}

TEST(ParseIso8601MicrosTest, MalformedExpirations) {
  for (const char* text :
       {"", "2026-11-26", "2026-11-26T18:00Z", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-11-26T24:00:00Z", "2026-11-26T18:00:00.Z", "2026-11-26T18:00:00+2",
        "2026-11-26T18:00:00Zjunk", "26-11-26T18:00:00Z", "2026-11-26T18:00:00+25:00",
        "2026-1a-26T18:00:00Z"}) {
    EXPECT_EQ(parseIso8601Micros(text), std::nullopt) << text;
  }
}

// STS's <Expiration> and the offsets other front ends write.
TEST(ParseIso8601MicrosTest, AcceptsStsTimesAndOffsets) {
  EXPECT_EQ(parseIso8601Micros("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parseIso8601Micros("2019-11-09T13:34:41Z"), kStsExpiry);
  EXPECT_EQ(parseIso8601Micros("2019-11-09T13:34:41.123456789Z"), kStsExpiry + 123456);
  EXPECT_EQ(parseIso8601Micros("2019-11-09T14:34:41+01:00"), kStsExpiry);
  EXPECT_EQ(parseIso8601Micros("2019-11-09T12:04:41-0130"), kStsExpiry);
  EXPECT_EQ(parseIso8601Micros("2019-11-09 13:34:41"), kStsExpiry);
  EXPECT_EQ(parseIso8601Micros("1969-12-31T23:59:59Z"), -kSecond);
  EXPECT_EQ(parseIso8601Micros("2000-02-29T00:00:00Z"), 951782400 * kSecond);
  for (const char* bad : {"", "2019-11-09", "2019-11-09T13:34", "2019-13-01T00:00:00Z",
                          "2019-02-29T00:00:00Z", "2019-11-09T24:00:00Z", "2019-11-09T13:34:41.Z",
                          "2019-11-09T13:34:41ZZ", "2019-11-09T13:34:41+1", "2019/11/09T13:34:41Z",
                          "2019-11-09T13:34:41+01:00x", "x019-11-09T13:34:41Z"}) {
    EXPECT_EQ(parseIso8601Micros(bad), std::nullopt) << bad;
  }
}

TEST(ParseIso8601MicrosTest, SurroundingWhitespaceDecimalCommaAndLeapSecond) {
  // XML element text may carry line breaks around the value.
  EXPECT_EQ(parseIso8601Micros("\n  2019-11-09T13:34:41Z\r\n"), kStsExpiry);
  EXPECT_EQ(parseIso8601Micros("2019-11-09T13:34:41,25Z"), kStsExpiry + kSecond / 4);
  EXPECT_EQ(parseIso8601Micros("2019-11-09T13:34:41.25+01"),
            kStsExpiry + kSecond / 4 - 3600 * kSecond);
  // RFC 3339 §5.7: a leap second is held at :59 of its minute.
  EXPECT_EQ(parseIso8601Micros("2016-12-31T23:59:60Z"), 1483228799 * kSecond);
  EXPECT_EQ(parseIso8601Micros("2016-12-31T23:59:60.5Z"), 1483228799 * kSecond + kSecond / 2);
  for (const char* bad :
       {"2019-11-09T13:34:41 Z", "2019-11-09T13:34:41+01:", "2019-11-09T13:34:41+0130x",
        "2019-11-09T13:34:41+01:60", "2019-11-09T13:34:61Z", "2019-11-09T13:60:00Z",
        "2019-11-00T13:34:41Z", "2019-00-09T13:34:41Z", "2019-11-09X13:34:41Z",
        "2019-11-09T13:34:41,Z", " "}) {
    EXPECT_EQ(parseIso8601Micros(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace kinesyslog::aws
