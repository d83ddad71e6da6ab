#include "net/stream_protocol.h"

#include <gtest/gtest.h>

#include "metrics/listener_counters.h"
#include "net/net_test_support.h"

namespace kinesyslog::net {
namespace {

using metrics::Counter;
using metrics::Problem;
using testing::CounterDelta;
using testing::ManualWorld;

constexpr std::string_view kLine = "<13>1 2026-01-02T03:04:05Z host app - - - hello";

class StreamProtocolTest : public ::testing::Test {
 protected:
  StreamRead read() const {
    return StreamRead{"192.0.2.7", 1'700'000'000'000'000, world_->clock().monotonicMicros(),
                      nullptr};
  }
  void make(WorkerOptions options = testing::testOptions()) {
    world_ = std::make_unique<ManualWorld>(options);
    protocol_ = makeStreamProtocol(world_->context(), "syslog_message");
  }
  std::unique_ptr<ManualWorld> world_;
  std::unique_ptr<StreamProtocol> protocol_;
};

TEST_F(StreamProtocolTest, SyslogFramesSplitAcrossReadsBecomeOneEventEach) {
  make();
  CounterDelta received(Counter::kMessagesReceived);
  const std::string stream =
      std::to_string(kLine.size()) + " " + std::string(kLine) + "\n" + std::string(kLine) + "\n";
  // Byte by byte: the framer holds the partial message between reads.
  for (char c : stream) {
    protocol_->feed(std::string_view(&c, 1), read());
    protocol_->publishCounters(read());
  }
  EXPECT_EQ(protocol_->heldBytes(), 0u);
  EXPECT_EQ(world_->delivered(),
            (std::vector<std::string>{std::string(kLine), std::string(kLine)}));
  EXPECT_EQ(world_->sink().streams(), std::vector<std::string>{"192.0.2.7"});
  EXPECT_EQ(received(), 2u);
}

TEST_F(StreamProtocolTest, SyslogHeldBytesAreWhatThePartialBudgetCharges) {
  make();
  protocol_->feed("<13>1 2026-01-02T03:04:05Z host app - - - part", read());
  EXPECT_EQ(protocol_->heldBytes(), 46u);
  protocol_->feed("ial\n", read());
  EXPECT_EQ(protocol_->heldBytes(), 0u);
}

TEST_F(StreamProtocolTest, SyslogCutDeliversThePartialMessageTruncatedAndDiscardsTheRest) {
  make();
  CounterDelta cuts(Counter::kPartialBudgetCuts);
  CounterDelta truncated(Counter::kMessagesTruncated);
  protocol_->feed("20 <13>1 2026-01", read());
  protocol_->cutPartial(read());
  EXPECT_EQ(protocol_->heldBytes(), 0u);
  protocol_->feed("-02T03:", read());  // the rest of the 20-byte frame: discarded
  protocol_->feed(std::string(kLine) + "\n", read());
  protocol_->publishCounters(read());
  EXPECT_EQ(cuts(), 1u);
  EXPECT_EQ(truncated(), 1u);
  EXPECT_EQ(world_->problems().reported(Problem::kPartialBudgetCut), 1u);
  // A cut is not also reported as an oversize message.
  EXPECT_EQ(world_->problems().reported(Problem::kMessageTruncated), 0u);
  const auto messages = world_->delivered();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1], kLine);
}

TEST_F(StreamProtocolTest, SyslogFinishDeliversWhatArrivedAndCountsItIncomplete) {
  make();
  CounterDelta incomplete(Counter::kFramesIncomplete);
  protocol_->feed("<13>1 2026-01-02T03:04:05Z host app - - - no end", read());
  protocol_->finish(read());
  protocol_->publishCounters(read());
  EXPECT_EQ(incomplete(), 1u);
  EXPECT_EQ(world_->problems().reported(Problem::kFrameIncomplete), 1u);
  EXPECT_EQ(world_->delivered(),
            std::vector<std::string>{"<13>1 2026-01-02T03:04:05Z host app - - - no end"});
}

TEST_F(StreamProtocolTest, CountersArePublishedOncePerReadWithTheListenersShare) {
  make();
  metrics::ListenerCounters listener;
  StreamRead withListener = read();
  withListener.listener = &listener;
  CounterDelta received(Counter::kMessagesReceived);
  protocol_->feed(std::string(kLine) + "\n" + std::string(kLine) + "\n", withListener);
  EXPECT_EQ(received(), 0u);  // nothing touches the atomics per message
  protocol_->publishCounters(withListener);
  EXPECT_EQ(received(), 2u);
  EXPECT_EQ(listener.messages(), 2u);
  protocol_->publishCounters(withListener);  // nothing new: nothing added
  EXPECT_EQ(received(), 2u);
}

TEST_F(StreamProtocolTest, GelfFramesEndAtNulOrLfAndAreTallied) {
  WorkerOptions options = testing::testOptions();
  options.gelf = true;
  make(options);
  CounterDelta received(Counter::kMessagesReceived);
  CounterDelta invalidJson(Counter::kGelfInvalidJson);
  CounterDelta missing(Counter::kGelfMissingFields);
  const std::string good = R"({"version":"1.1","host":"h","short_message":"m"})";
  protocol_->feed(
      good + std::string(1, '\0') + "not json\n" + R"({"host":"h"})" + std::string(1, '\0'),
      read());
  protocol_->publishCounters(read());
  EXPECT_EQ(received(), 3u);
  EXPECT_EQ(invalidJson(), 1u);
  EXPECT_EQ(missing(), 1u);
  EXPECT_EQ(world_->delivered().size(), 3u);
}

TEST_F(StreamProtocolTest, GelfCutDropsThePartialFrame) {
  WorkerOptions options = testing::testOptions();
  options.gelf = true;
  make(options);
  CounterDelta cuts(Counter::kPartialBudgetCuts);
  protocol_->feed(R"({"version":"1.1","host":"h","short_mess)", read());
  EXPECT_GT(protocol_->heldBytes(), 0u);
  protocol_->cutPartial(read());
  EXPECT_EQ(protocol_->heldBytes(), 0u);
  protocol_->feed(R"(age":"m"})" + std::string(1, '\0'), read());  // the rest: discarded
  protocol_->publishCounters(read());
  EXPECT_EQ(cuts(), 1u);
  EXPECT_TRUE(world_->delivered().empty());  // truncated JSON is useless: dropped, not relayed
}

}  // namespace
}  // namespace kinesyslog::net
