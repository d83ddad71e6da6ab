#include "proto/gelf/gelf_timestamp.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>

namespace kinesyslog::gelf {
namespace {

// Parses from an exactly sized heap copy, so that AddressSanitizer sees any read past the end.
std::optional<int64_t> parse(std::string_view text) {
  std::unique_ptr<char[]> copy(new char[text.size() + 1]);
  std::memcpy(copy.get(), text.data(), text.size());
  return parseGelfTimestampMillis(std::string_view(copy.get(), text.size()));
}

TEST(GelfTimestampTest, WholeSeconds) {
  EXPECT_EQ(parse("1385053862"), 1385053862000);
  EXPECT_EQ(parse("0"), 0);
  EXPECT_EQ(parse("1"), 1000);
}

TEST(GelfTimestampTest, FractionRoundsHalfUp) {
  EXPECT_EQ(parse("1385053862.3072"), 1385053862307);
  EXPECT_EQ(parse("1519247270.239881"), 1519247270240);  // docs/design.md "Records" sample
  EXPECT_EQ(parse("1519247270.2395"), 1519247270240);    // a tie rounds up
  EXPECT_EQ(parse("1519247270.2394999999999"), 1519247270239);
  EXPECT_EQ(parse("1519247270.0005"), 1519247270001);
  EXPECT_EQ(parse("1519247270.0004"), 1519247270000);
  EXPECT_EQ(parse("1519247270.9995"), 1519247271000);  // carries into the seconds
  EXPECT_EQ(parse("1.5"), 1500);
  EXPECT_EQ(parse("0.0005"), 1);
  EXPECT_EQ(parse("0.00049"), 0);
}

TEST(GelfTimestampTest, ExponentsMoveThePointExactly) {
  EXPECT_EQ(parse("1.385053862307e9"), 1385053862307);
  EXPECT_EQ(parse("1.3850538623075E+9"), 1385053862308);
  EXPECT_EQ(parse("13850538623075e-4"), 1385053862308);
  EXPECT_EQ(parse("5e-4"), 1);
  EXPECT_EQ(parse("4.9e-4"), 0);
  EXPECT_EQ(parse("1e-1000000000000"), 0);
  EXPECT_EQ(parse("0e99999999999"), 0);
}

TEST(GelfTimestampTest, ZeroInAnySpellingIsTheEpoch) {
  EXPECT_EQ(parse("-0"), 0);
  EXPECT_EQ(parse("-0.000"), 0);
  EXPECT_EQ(parse("0.0e5"), 0);
}

TEST(GelfTimestampTest, NegativeTimesAreRefused) {
  EXPECT_EQ(parse("-1"), std::nullopt);
  EXPECT_EQ(parse("-0.0001"), std::nullopt);
}

TEST(GelfTimestampTest, RangeEndsAtYear9999) {
  EXPECT_EQ(parse("253402300799.999"), kMaxTimestampMillis);
  EXPECT_EQ(parse("253402300799.9994"), kMaxTimestampMillis);
  EXPECT_EQ(parse("253402300799.9995"), std::nullopt);  // rounds to year 10000
  EXPECT_EQ(parse("253402300800"), std::nullopt);
  EXPECT_EQ(parse("1e300"), std::nullopt);
  EXPECT_EQ(parse("99999999999999999999999999999999"), std::nullopt);
  EXPECT_EQ(parse("1e1000000000000"), std::nullopt);
}

TEST(GelfTimestampTest, OnlyTheJsonNumberGrammar) {
  for (const char* bad : {"", "-", "+1", "01", "1.", ".5", "1e", "1e+", "1.5x", " 1", "1 ", "0x10",
                          "NaN", "Infinity", "1,5", "1..2", "--1", "1e5.5", "\xd9\xa1"}) {
    EXPECT_EQ(parse(bad), std::nullopt) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace kinesyslog::gelf
