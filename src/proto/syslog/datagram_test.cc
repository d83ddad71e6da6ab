#include "proto/syslog/datagram.h"

#include <gtest/gtest.h>

#include <string>

namespace kinesyslog::syslog {
namespace {

using namespace std::string_literals;

TEST(DatagramTest, MatchingCountIsRemoved) {
  EXPECT_EQ(unwrapDatagram("5 hello"), "hello");
  EXPECT_EQ(unwrapDatagram("10 <13>1 - -\n"), "<13>1 - -");
}

TEST(DatagramTest, CountMatchesTheBytesAsReceived) {
  // loggen -P counts the trailing LF; the count is checked before stripping.
  EXPECT_EQ(unwrapDatagram("6 hello\n"), "hello");
  EXPECT_EQ(unwrapDatagram("5 hello\n"), "5 hello");
}

TEST(DatagramTest, NonMatchingCountLeavesTheDatagram) {
  EXPECT_EQ(unwrapDatagram("4 hello"), "4 hello");
  EXPECT_EQ(unwrapDatagram("6 hello"), "6 hello");
  EXPECT_EQ(unwrapDatagram("2024 was a good year"), "2024 was a good year");
}

TEST(DatagramTest, MalformedCountsAreText) {
  EXPECT_EQ(unwrapDatagram("0 "), "0 ");  // a count cannot start with 0
  EXPECT_EQ(unwrapDatagram("05 hello"), "05 hello");
  EXPECT_EQ(unwrapDatagram("5hello"), "5hello");  // no space
  EXPECT_EQ(unwrapDatagram("5"), "5");
  EXPECT_EQ(unwrapDatagram("12abc\n"), "12abc");
  EXPECT_EQ(unwrapDatagram("1000000000 x"), "1000000000 x");  // ten digits
  EXPECT_EQ(unwrapDatagram("999999999 x"), "999999999 x");    // nine, not matching
}

TEST(DatagramTest, ZeroLengthBodyAfterMatchingCount) {
  EXPECT_EQ(unwrapDatagram("1 \n"), "");
  EXPECT_EQ(unwrapDatagram("1  "), " ");
}

TEST(DatagramTest, TrailingNewlinesAreStripped) {
  EXPECT_EQ(unwrapDatagram("<13>hello\r\n"), "<13>hello");
  EXPECT_EQ(unwrapDatagram("<13>hello\n\0\r\n"s), "<13>hello");
  EXPECT_EQ(unwrapDatagram("<13>a\nb\0c\n"s), "<13>a\nb\0c"s);  // only the trailing ones
  EXPECT_EQ(unwrapDatagram("  hello  "), "  hello  ");          // spaces are kept
}

TEST(DatagramTest, EmptyDatagram) {
  EXPECT_EQ(unwrapDatagram(""), "");
}

TEST(DatagramTest, DatagramOfOnlyNewlines) {
  EXPECT_EQ(unwrapDatagram("\n"), "");
  EXPECT_EQ(unwrapDatagram("\r\n\0\n\r"s), "");
}

TEST(DatagramTest, ResultIsAViewIntoTheDatagram) {
  const std::string datagram = "7 hello\r\n";
  const std::string_view out = unwrapDatagram(datagram);
  EXPECT_EQ(out, "hello");
  EXPECT_EQ(out.data(), datagram.data() + 2);
}

TEST(StripTrailingNewlinesTest, Strips) {
  EXPECT_EQ(stripTrailingNewlines(""), "");
  EXPECT_EQ(stripTrailingNewlines("abc"), "abc");
  EXPECT_EQ(stripTrailingNewlines("abc\n"), "abc");
  EXPECT_EQ(stripTrailingNewlines("abc\r\n\0"s), "abc");
  EXPECT_EQ(stripTrailingNewlines("\nabc"), "\nabc");
  EXPECT_EQ(stripTrailingNewlines("\0\0"s), "");
  EXPECT_EQ(stripTrailingNewlines("5 abc\n"), "5 abc");  // no count handling here
}

}  // namespace
}  // namespace kinesyslog::syslog
