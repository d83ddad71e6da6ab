#include "app/log_format.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <string>

namespace kinesyslog::app {
namespace {

// 2026-01-02T03:04:05.678Z
const auto kTime = spdlog::log_clock::time_point(std::chrono::milliseconds(1767323045678));

std::string jsonLine(spdlog::level::level_enum level, std::string_view message) {
  const spdlog::details::log_msg msg(kTime, spdlog::source_loc{}, "kinesyslog", level,
                                     spdlog::string_view_t(message.data(), message.size()));
  spdlog::memory_buf_t out;
  JsonLogFormatter formatter;
  formatter.format(msg, out);
  return std::string(out.data(), out.size());
}

// The line parsed by simdjson (which validates UTF-8 too): its three fields.
struct Fields {
  std::string time, level, message;
  size_t count = 0;
};

::testing::AssertionResult parses(const std::string& line, Fields* fields) {
  if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) {
    return ::testing::AssertionFailure() << "not one line: " << line;
  }
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (auto error = parser.parse(simdjson::padded_string(line)).get(object)) {
    return ::testing::AssertionFailure() << "simdjson: " << error << " for " << line;
  }
  for (auto [key, value] : object) {
    std::string_view text;
    if (value.get_string().get(text)) return ::testing::AssertionFailure() << key << " not text";
    ++fields->count;
    if (key == "time") fields->time = text;
    if (key == "level") fields->level = text;
    if (key == "message") fields->message = text;
  }
  return ::testing::AssertionSuccess();
}

TEST(JsonLogFormatter, OneObjectPerLineWithTheTextLinesFields) {
  EXPECT_EQ(jsonLine(spdlog::level::info, "ready: udp 127.0.0.1:514 (syslog)"),
            "{\"time\":\"2026-01-02T03:04:05.678Z\",\"level\":\"info\","
            "\"message\":\"ready: udp 127.0.0.1:514 (syslog)\"}\n");
}

TEST(JsonLogFormatter, LevelsKeepTheTextFormatsNames) {
  for (auto [level, name] :
       {std::pair{spdlog::level::debug, "debug"}, std::pair{spdlog::level::warn, "warning"},
        std::pair{spdlog::level::err, "error"}, std::pair{spdlog::level::critical, "critical"}}) {
    Fields fields;
    ASSERT_TRUE(parses(jsonLine(level, "x"), &fields));
    EXPECT_EQ(fields.level, name);
  }
}

TEST(JsonLogFormatter, QuotesBackslashesAndControlBytesAreEscaped) {
  const std::string message = std::string("bad frame \"a\\b\"\r\n\t\x01 end\0", 25);
  const std::string line = jsonLine(spdlog::level::warn, message);
  EXPECT_NE(line.find(R"(bad frame \"a\\b\"\r\n\t\u0001 end\u0000)"), std::string::npos) << line;
  Fields fields;
  ASSERT_TRUE(parses(line, &fields));
  EXPECT_EQ(fields.count, 3u);
  EXPECT_EQ(fields.time, "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(fields.message, message);
}

TEST(JsonLogFormatter, Utf8IsKeptAndInvalidBytesBecomeBackslashX) {
  Fields fields;
  ASSERT_TRUE(parses(jsonLine(spdlog::level::info, "caf\xc3\xa9 \xe2\x82\xac \xff\xc3"), &fields));
  EXPECT_EQ(fields.message, "caf\xc3\xa9 \xe2\x82\xac \\xff\\xc3");
}

TEST(LogFormat, NamedFormats) {
  EXPECT_EQ(logFormatNamed("json"), LogFormat::kJson);
  EXPECT_EQ(logFormatNamed("text"), LogFormat::kText);
}

}  // namespace
}  // namespace kinesyslog::app
