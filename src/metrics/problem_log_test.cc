#include "metrics/problem_log.h"

#include <gtest/gtest.h>

#include "metrics/relay_counters.h"

namespace kinesyslog::metrics {
namespace {

TEST(ProblemLog, LogsOncePerKindPerIntervalAndCountsEverything) {
  ProblemLog log(10'000'000);
  EXPECT_TRUE(log.report(Problem::kMessageTruncated, 0, "first"));
  for (int i = 1; i <= 1000; ++i) {
    EXPECT_FALSE(log.report(Problem::kMessageTruncated, i * 1000, "flood"));
  }
  // Another kind has its own slot.
  EXPECT_TRUE(log.report(Problem::kFrameIncomplete, 5000, "other kind"));
  EXPECT_FALSE(log.report(Problem::kMessageTruncated, 9'999'999, "still inside"));
  EXPECT_TRUE(log.report(Problem::kMessageTruncated, 10'000'000, "next interval"));
  EXPECT_EQ(log.reported(Problem::kMessageTruncated), 1003u);
  EXPECT_EQ(log.reported(Problem::kFrameIncomplete), 1u);
}

TEST(RelayCounters, FormatNamesEveryCounter) {
  RelayCounters c;
  c.add(Counter::kUdpDropped, 3);
  c.add(Counter::kMessagesReceived);
  c.sub(Counter::kMessagesReceived);
  std::string text = c.format();
  EXPECT_NE(text.find("udp_dropped=3"), std::string::npos);
  EXPECT_NE(text.find("messages_received=0"), std::string::npos);
  EXPECT_EQ(counterName(Counter::kDeliveryFailures), "delivery_failures");
  EXPECT_EQ(counterName(Counter::kGelfInvalidTimestamp), "gelf_invalid_timestamp");
  size_t pairs = 1;
  for (char ch : text) pairs += ch == ' ';
  EXPECT_EQ(pairs, static_cast<size_t>(Counter::kCount));
}

TEST(RelayCounters, FormatAddsCountsKeptElsewhereWithoutStoringThem) {
  RelayCounters c;
  c.add(Counter::kRecordsDelivered, 2);
  const std::pair<Counter, uint64_t> plus[] = {{Counter::kRecordsDelivered, 5},
                                               {Counter::kDeliveryFailures, 1}};
  for (int i = 0; i < 2; ++i) {
    const std::string text = c.format(plus);
    EXPECT_NE(text.find("records_delivered=7"), std::string::npos) << text;
    EXPECT_NE(text.find("delivery_failures=1"), std::string::npos) << text;
  }
  EXPECT_EQ(c.get(Counter::kRecordsDelivered), 2u);
}

}  // namespace
}  // namespace kinesyslog::metrics
