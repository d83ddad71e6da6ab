#include "metrics/internal_error.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"

namespace kinesyslog::metrics {
namespace {

// Sends the process's log to a string while it lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    sink->set_pattern("%l %v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

size_t countOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(InternalError, CountsEveryTimeAndLogsOneErrorLinePerInterval) {
  const InternalErrorsContinue goOn;
  CapturedLog log;
  const uint64_t before = counters().get(Counter::kInternalErrors);
  int line = 0;
  for (int i = 0; i < 5; ++i) {
    line = __LINE__ + 1;
    EXPECT_TRUE(KINESYSLOG_BUG_IF(i >= 0, "the test's impossible state"));
  }
  EXPECT_EQ(counters().get(Counter::kInternalErrors), before + 5);
  EXPECT_EQ(problems().reported(Problem::kInternalError), 5u);
  const std::string text = log.text();
  // One line in the 10 s interval, at error level, naming the source line and the text.
  EXPECT_EQ(countOf(text, "\n"), 1u) << text;
  EXPECT_EQ(text.rfind("error internal error", 0), 0u) << text;
  EXPECT_NE(text.find("src/metrics/internal_error_test.cc:" + std::to_string(line) +
                      ": the test's impossible state"),
            std::string::npos)
      << text;
  EXPECT_NE(counters().format().find("internal_errors=" + std::to_string(before + 5)),
            std::string::npos);
}

TEST(InternalError, AFalseConditionCostsNothing) {
  CapturedLog log;
  const uint64_t before = counters().get(Counter::kInternalErrors);
  EXPECT_FALSE(KINESYSLOG_BUG_IF(1 + 1 == 3, "arithmetic"));
  EXPECT_EQ(counters().get(Counter::kInternalErrors), before);
  EXPECT_EQ(log.text(), "");
}

#ifndef NDEBUG
// Debug (sanitizer) builds stop at the bug, so tests and fuzzers that reach it fail.
TEST(InternalErrorDeathTest, DebugBuildsAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH((void)KINESYSLOG_BUG_IF(true, "stop here"), "internal error at .*stop here");
}
#endif

}  // namespace
}  // namespace kinesyslog::metrics
