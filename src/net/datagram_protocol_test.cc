#include "net/datagram_protocol.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "net/net_test_support.h"

namespace kinesyslog::net {
namespace {

using metrics::Counter;
using metrics::Problem;
using namespace std::chrono_literals;
using testing::CounterDelta;
using testing::ManualWorld;

class DatagramProtocolTest : public ::testing::Test {
 protected:
  void make(bool gelf, size_t maxMessageSize = 65536) {
    WorkerOptions options = testing::testOptions();
    options.gelf = gelf;
    options.maxMessageSize = maxMessageSize;
    world_ = std::make_unique<ManualWorld>(options);
    protocol_ = makeDatagramProtocol(world_->context(), gelf ? "gelf_message" : "syslog_message");
  }
  DatagramRead read(std::string_view source = "192.0.2.3") const {
    return DatagramRead{source, 1'700'000'000'000'000, world_->clock().monotonicMicros()};
  }
  static std::string chunk(char id, uint8_t sequence, uint8_t count, std::string_view payload) {
    std::string c = "\x1e\x0f";
    c.append(7, '\0');
    c.push_back(id);
    c.push_back(static_cast<char>(sequence));
    c.push_back(static_cast<char>(count));
    c.append(payload);
    return c;
  }

  std::unique_ptr<ManualWorld> world_;
  std::unique_ptr<DatagramProtocol> protocol_;
};

TEST_F(DatagramProtocolTest, SyslogIsOneEventPerDatagramWithTheTrailerUnwrapped) {
  make(false);
  EXPECT_TRUE(protocol_->feed("<13>1 2026-01-02T03:04:05Z h app - - - one\n", read()));
  EXPECT_TRUE(protocol_->feed("<13>1 2026-01-02T03:04:05Z h app - - - two", read("192.0.2.4")));
  EXPECT_FALSE(protocol_->feed("", read()));
  auto delivered = world_->delivered();
  std::sort(delivered.begin(), delivered.end());  // batches flush in no particular order
  EXPECT_EQ(delivered, (std::vector<std::string>{"<13>1 2026-01-02T03:04:05Z h app - - - one",
                                                 "<13>1 2026-01-02T03:04:05Z h app - - - two"}));
  auto streams = world_->sink().streams();
  std::sort(streams.begin(), streams.end());
  EXPECT_EQ(streams, (std::vector<std::string>{"192.0.2.3", "192.0.2.4"}));
}

TEST_F(DatagramProtocolTest, SyslogTruncationIsCountedAndLoggedOncePerBatch) {
  make(false, 40);
  CounterDelta truncated(Counter::kMessagesTruncated);
  const std::string big = "<13>1 2026-01-02T03:04:05Z h app - - - " + std::string(100, 'x');
  EXPECT_TRUE(protocol_->feed(big, read()));
  EXPECT_TRUE(protocol_->feed(big, read()));
  EXPECT_EQ(truncated(), 0u);  // tallied, not yet published
  protocol_->publishCounters(read().monotonicNow, "192.0.2.3");
  EXPECT_EQ(truncated(), 2u);
  EXPECT_EQ(world_->problems().reported(Problem::kMessageTruncated), 1u);
}

TEST_F(DatagramProtocolTest, GelfChunksReassembleAndAnIncompleteSetExpiresByTheClock) {
  make(true);
  CounterDelta expired(Counter::kGelfChunkSetsExpired);
  CounterDelta chunked(Counter::kGelfChunkedMessages);
  EXPECT_FALSE(protocol_->feed(chunk(1, 0, 2, R"({"version":"1.1","host":"h",)"), read()));
  EXPECT_TRUE(protocol_->feed(chunk(1, 1, 2, R"("short_message":"m"})"), read()));
  EXPECT_FALSE(protocol_->feed(chunk(2, 0, 2, "{"), read()));
  protocol_->publishCounters(read().monotonicNow, "192.0.2.3");
  EXPECT_EQ(chunked(), 1u);
  world_->advance(4'999ms);
  EXPECT_EQ(expired(), 0u);
  world_->advance(1ms);
  EXPECT_EQ(expired(), 1u);
  EXPECT_EQ(world_->problems().reported(Problem::kGelfChunkSetExpired), 1u);
  EXPECT_EQ(world_->delivered().size(), 1u);
}

TEST_F(DatagramProtocolTest, GelfFinishDropsSetsThatCanNoLongerComplete) {
  make(true);
  CounterDelta expired(Counter::kGelfChunkSetsExpired);
  EXPECT_FALSE(protocol_->feed(chunk(3, 0, 3, "{"), read()));
  protocol_->finish(read().monotonicNow);
  EXPECT_EQ(expired(), 1u);
  EXPECT_EQ(world_->timers().pending(), 0u);
}

TEST_F(DatagramProtocolTest, GelfJsonFindingsAreTalliedAndPublished) {
  make(true);
  CounterDelta invalid(Counter::kGelfInvalidJson);
  EXPECT_TRUE(protocol_->feed("not json", read()));
  protocol_->publishCounters(read().monotonicNow, "192.0.2.3");
  EXPECT_EQ(invalid(), 1u);
  EXPECT_EQ(world_->problems().reported(Problem::kGelfInvalidJson), 1u);
}

}  // namespace
}  // namespace kinesyslog::net
