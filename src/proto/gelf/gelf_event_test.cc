#include "proto/gelf/gelf_event.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace kinesyslog::gelf {
namespace {

using namespace std::string_literals;

constexpr int64_t kReceiveMicros = 1'700'000'000'123'456;  // -> 1700000000123 ms
constexpr int64_t kReceiveMs = 1'700'000'000'123;

class GelfEventTest : public ::testing::Test {
 protected:
  AppendedGelfEvent append(std::string_view message, size_t maxSize = 65536) {
    return appendGelfEvent(batch_, message, kReceiveMicros, parser_, maxSize);
  }
  // The findings for `json` parsed from an exactly padded copy.
  GelfFindings check(std::string_view json) {
    std::string copy(json);
    copy.reserve(json.size() + 64);
    return parser_.check(copy, copy.capacity());
  }
  std::string_view lastMessage() const { return batch_.message(batch_.events.back()); }
  int64_t lastTimestamp() const { return batch_.events.back().timestampMs; }

  GelfParser parser_{65536};
  record::SourceBatch batch_;
};

constexpr std::string_view kFull =
    R"({"version":"1.1","host":"example.org","short_message":"A short message",)"
    R"("full_message":"Backtrace here\n\nmore stuff","timestamp":1385053862.3072,"level":1,)"
    R"("_user_id":9001,"_some_info":"foo","_some_env_var":"bar"})";

TEST_F(GelfEventTest, SpecExampleKeepsItsTextAndTime) {
  auto appended = append(kFull);
  EXPECT_EQ(appended.bytes, kFull.size());
  EXPECT_TRUE(appended.findings.validJson);
  EXPECT_FALSE(appended.findings.missingFields);
  EXPECT_FALSE(appended.findings.invalidTimestamp);
  EXPECT_EQ(lastMessage(), kFull);
  EXPECT_EQ(lastTimestamp(), 1385053862307);
}

TEST_F(GelfEventTest, TimestampAsNumberStringAndExponent) {
  append(R"({"version":"1.1","host":"h","short_message":"m","timestamp":1519247270.2395})");
  EXPECT_EQ(lastTimestamp(), 1519247270240);
  append(R"({"version":"1.1","host":"h","short_message":"m","timestamp":"1519247270.239881"})");
  EXPECT_EQ(lastTimestamp(), 1519247270240);
  append(R"({"version":"1.1","host":"h","short_message":"m","timestamp" : 1.5192472702394e9 })");
  EXPECT_EQ(lastTimestamp(), 1519247270239);
  append(R"({"version":"1.1","host":"h","short_message":"m","timestamp":1519247270})");
  EXPECT_EQ(lastTimestamp(), 1519247270000);
  EXPECT_TRUE(batch_.events.size() == 4);
}

TEST_F(GelfEventTest, FractionRoundsHalfUpOnTheDigitsSent) {
  // 0.0005 has no exact binary form; the digits as sent decide.
  append(R"({"version":"1.1","host":"h","short_message":"m","timestamp":1700000000.0005})");
  EXPECT_EQ(lastTimestamp(), 1700000000001);
  append(R"({"version":"1.1","host":"h","short_message":"m","timestamp":1700000000.00049999})");
  EXPECT_EQ(lastTimestamp(), 1700000000000);
}

TEST_F(GelfEventTest, MissingTimestampIsTheReceiveTime) {
  auto appended = append(R"({"version":"1.1","host":"h","short_message":"m"})");
  EXPECT_TRUE(appended.findings.validJson);
  EXPECT_FALSE(appended.findings.invalidTimestamp);
  EXPECT_EQ(lastTimestamp(), kReceiveMs);
}

TEST_F(GelfEventTest, UnusableTimestampIsCountedAndTheReceiveTimeUsed) {
  for (std::string_view json : {
           R"({"version":"1.1","host":"h","short_message":"m","timestamp":"yesterday"})",
           R"({"version":"1.1","host":"h","short_message":"m","timestamp":-5})",
           R"({"version":"1.1","host":"h","short_message":"m","timestamp":1e300})",
           R"({"version":"1.1","host":"h","short_message":"m","timestamp":null})",
           R"({"version":"1.1","host":"h","short_message":"m","timestamp":[1]})",
           R"({"version":"1.1","host":"h","short_message":"m","timestamp":" 17"})",
       }) {
    auto appended = append(json);
    EXPECT_TRUE(appended.findings.validJson) << json;
    EXPECT_TRUE(appended.findings.invalidTimestamp) << json;
    EXPECT_FALSE(appended.findings.missingFields) << json;
    EXPECT_EQ(lastTimestamp(), kReceiveMs) << json;
    EXPECT_EQ(lastMessage(), json);
  }
}

TEST_F(GelfEventTest, FirstTimestampWins) {
  append(R"({"version":"1.1","host":"h","short_message":"m","timestamp":1,"timestamp":2})");
  EXPECT_EQ(lastTimestamp(), 1000);
}

TEST_F(GelfEventTest, EscapedKeysAreRecognised) {
  auto appended = append(R"({"versio\u006e":"1.1","\u0068ost":"h","short_message":"m",)"
                         R"("time\u0073tamp":2})");
  EXPECT_FALSE(appended.findings.missingFields);
  EXPECT_EQ(lastTimestamp(), 2000);
}

TEST_F(GelfEventTest, MissingFieldsAreCountedNotDropped) {
  for (std::string_view json : {
           R"({"host":"h","short_message":"m"})",
           R"({"version":"1.1","short_message":"m"})",
           R"({"version":"1.1","host":"h"})",
           R"({"version":1.1,"host":"h","short_message":"m"})",  // not a string
           R"({})",
           R"([1,2,3])",
           R"("just a string")",
       }) {
    auto appended = append(json);
    EXPECT_EQ(appended.bytes, json.size()) << json;
    EXPECT_TRUE(appended.findings.validJson) << json;
    EXPECT_TRUE(appended.findings.missingFields) << json;
    EXPECT_EQ(lastMessage(), json);
    EXPECT_EQ(lastTimestamp(), kReceiveMs);
  }
}

TEST_F(GelfEventTest, InvalidJsonIsRelayedWithTheReceiveTime) {
  for (std::string_view json : {
           R"({"version":"1.1","host":"h","short_message":"m","timestamp":5)",  // unclosed
           R"({"version":"1.1","host":"h","short_message":"m","timestamp":5} trailing)",
           R"({"version":"1.1","host":"h","short_message":"m","timestamp":5,})",
           R"({"version":"1.1" "host":"h"})",
           R"({"a":tru})",
           R"({"a":01})",
           R"({"a":"\x"})",
           R"({"a":"\ud800"})",
           R"({"a":-})",
           R"({"a":1e400})",
           "{\"a\":\"\xff\"}",
           "hello world",
           "{\"a\":[[[[[[[[[[[[[[[[[[",
       }) {
    auto appended = append(json);
    EXPECT_EQ(appended.bytes, json.size()) << json;
    EXPECT_FALSE(appended.findings.validJson) << json;
    EXPECT_FALSE(appended.findings.missingFields) << json;
    EXPECT_EQ(lastMessage(), json);
    EXPECT_EQ(lastTimestamp(), kReceiveMs) << json;
  }
}

TEST_F(GelfEventTest, EveryValueIsValidated) {
  // On-Demand only checks what is visited; a bad value deep inside must still be found.
  EXPECT_FALSE(
      check(R"({"version":"1.1","host":"h","short_message":"m","_x":{"a":[1,2,{"b":nul}]}})")
          .validJson);
  EXPECT_TRUE(
      check(R"({"version":"1.1","host":"h","short_message":"m","_x":{"a":[1,2,{"b":null}]}})")
          .validJson);
  EXPECT_TRUE(
      check(
          R"({"version":"1.1","host":"h","short_message":"m","_big":123456789012345678901234567890})")
          .validJson);
}

TEST_F(GelfEventTest, OneJsonTextOnly) {
  EXPECT_TRUE(check("{\"a\":1}  \t\r\n").validJson);
  EXPECT_FALSE(check(R"({"a":1}{"b":2})").validJson);
  EXPECT_FALSE(check(R"({"a":1} 2)").validJson);
  EXPECT_TRUE(check(" 17 ").validJson);
  EXPECT_FALSE(check("17 18").validJson);
}

// Found by the gelf_event fuzz target (corpus regression-root-false-then-bytes): a root `false`
// followed by any byte was taken for valid JSON, and one followed by whitespace was refused.
TEST_F(GelfEventTest, RootLiteralMustEndAtTheText) {
  EXPECT_FALSE(check("false0").validJson);
  EXPECT_FALSE(check("falsex").validJson);
  EXPECT_FALSE(check(std::string("\0false0", 7)).validJson);
  EXPECT_TRUE(check(" false \r\n").validJson);
  EXPECT_TRUE(check("true").validJson);
  EXPECT_FALSE(check("true1").validJson);
  EXPECT_TRUE(check("null").validJson);
  EXPECT_TRUE(check(" null \t").validJson);
  EXPECT_FALSE(check("nullx").validJson);
}

TEST_F(GelfEventTest, AnExponentOfTwentyDigitsIsNotValid) {
  // RFC 8259 §6 allows a limit on the numbers taken; simdjson On-Demand's is an exponent of at
  // most 19 digits, even when the value would be 0 (found by the gelf_event fuzz target, whose
  // DOM oracle took it as 0).
  EXPECT_TRUE(check("{\"_n\":0e999999999999999999}").validJson);
  EXPECT_FALSE(check("{\"_n\":0e4512345678901234567890}").validJson);
  EXPECT_FALSE(check("0e451234567890123456789012345678901234567890").validJson);
  EXPECT_FALSE(check("{\"_n\":1e400}").validJson);  // past a double's range
}

TEST_F(GelfEventTest, RawControlCharactersInStringsAreNotValid) {
  // RFC 8259 §7: U+0000 through U+001F must be escaped.
  EXPECT_FALSE(check("{\"a\":\"tab\there\"}").validJson);
  EXPECT_FALSE(check("{\"a\":\"x\x01y\"}").validJson);
  EXPECT_TRUE(check("{\"a\":\"tab\\there\"}").validJson);
}

TEST_F(GelfEventTest, DepthBeyondTheLimitIsNotValid) {
  auto nested = [](size_t levels) {
    return "{\"a\":" + std::string(levels, '[') + std::string(levels, ']') + "}";
  };
  EXPECT_TRUE(check(nested(GelfParser::kMaxDepth)).validJson);
  EXPECT_FALSE(check(nested(GelfParser::kMaxDepth + 1)).validJson);
  // Past simdjson's own limit (1024) too: refused before simdjson gets there.
  EXPECT_FALSE(check(nested(5000)).validJson);
  EXPECT_FALSE(check(std::string(5000, '[') + std::string(5000, ']')).validJson);
  EXPECT_FALSE(check("{\"a\":" + std::string(5000, '[')).validJson);
}

TEST_F(GelfEventTest, TooLittlePaddingIsNotParsed) {
  std::string json = R"({"version":"1.1","host":"h","short_message":"m"})";
  EXPECT_FALSE(parser_.check(json, json.size()).validJson);
}

TEST_F(GelfEventTest, TrailingNewlinesAndNulsAreStripped) {
  auto appended = append("{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"m\"}\r\n\0"s);
  EXPECT_TRUE(appended.findings.validJson);
  EXPECT_EQ(lastMessage(), R"({"version":"1.1","host":"h","short_message":"m"})");
}

TEST_F(GelfEventTest, EmptyMessageAddsNothing) {
  EXPECT_EQ(append("").bytes, 0u);
  EXPECT_EQ(append("\n\0"s).bytes, 0u);
  EXPECT_TRUE(batch_.events.empty());
}

TEST_F(GelfEventTest, OversizeIsDroppedNotTruncated) {
  std::string json =
      R"({"version":"1.1","host":"h","short_message":")" + std::string(100, 'x') + "\"}";
  auto dropped = append(json, json.size() - 1);
  EXPECT_TRUE(dropped.oversize);
  EXPECT_EQ(dropped.bytes, 0u);
  EXPECT_TRUE(batch_.events.empty());
  EXPECT_TRUE(batch_.arena.empty());
  auto kept = append(json, json.size());  // exactly the maximum is fine
  EXPECT_FALSE(kept.oversize);
  EXPECT_EQ(lastMessage(), json);
}

TEST_F(GelfEventTest, EventsShareTheArenaBackToBack) {
  append(R"({"version":"1.1","host":"a","short_message":"1"})");
  append("not json");
  append(R"({"version":"1.1","host":"b","short_message":"2"})");
  ASSERT_EQ(batch_.events.size(), 3u);
  EXPECT_EQ(batch_.message(batch_.events[1]), "not json");
  EXPECT_EQ(batch_.arena, R"({"version":"1.1","host":"a","short_message":"1"})"
                          R"(not json{"version":"1.1","host":"b","short_message":"2"})");
}

}  // namespace
}  // namespace kinesyslog::gelf
