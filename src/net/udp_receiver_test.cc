#include "net/udp_receiver.h"

#include <gtest/gtest.h>

#include "net/net_test_support.h"

namespace kinesyslog::net {
namespace {

using metrics::Counter;
using metrics::Problem;
using namespace std::chrono_literals;
using testing::CounterDelta;
using testing::ManualWorld;

constexpr std::string_view kLine = "<13>1 2026-01-02T03:04:05Z host app - - - hello";

// A UDP socket on 127.0.0.1 read by a UdpReceiver in a manual world, and a sender.
class UdpReceiverTest : public ::testing::Test {
 protected:
  explicit UdpReceiverTest(WorkerOptions options = testing::testOptions()) : world_(options) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    address_.sin_family = AF_INET;
    address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address_), sizeof address_);
    socklen_t length = sizeof address_;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address_), &length);
    receiver_ = std::make_unique<UdpReceiver>(world_.context(), fd, 514);
    receiver_->start();
    sender_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  ~UdpReceiverTest() override { ::close(sender_); }

  void send(std::string_view datagram) {
    ::sendto(sender_, datagram.data(), datagram.size(), 0,
             reinterpret_cast<const sockaddr*>(&address_), sizeof address_);
  }
  // Runs the loop, the manual clock stepping 1 ms at a time (the receiver waits 500 us between
  // thin reads to fill a batch), until `done` holds.
  bool runUntil(const std::function<bool()>& done) {
    for (int step = 0; step < 500 && !done(); ++step) {
      world_.advance(1ms);
      world_.context().io().restart();
      world_.context().io().run_one_for(10ms);
      world_.poll();
    }
    return done();
  }
  size_t deliveredCount() { return world_.delivered().size(); }

  ManualWorld world_;
  sockaddr_in address_{};
  std::unique_ptr<UdpReceiver> receiver_;
  int sender_ = -1;
};

TEST_F(UdpReceiverTest, EachDatagramIsOneEventFiledUnderTheSender) {
  CounterDelta received(Counter::kMessagesReceived);
  CounterDelta datagrams(Counter::kUdpDatagrams);
  for (int i = 0; i < 3; ++i) send(kLine);
  ASSERT_TRUE(runUntil([&] { return deliveredCount() == 3; }));
  EXPECT_EQ(received(), 3u);
  EXPECT_EQ(datagrams(), 3u);
  EXPECT_EQ(world_.sink().batches[0].stream, "127.0.0.1");
  EXPECT_EQ(world_.sink().batches[0].group, "syslog_message");
}

TEST_F(UdpReceiverTest, WhileTheSpoolIsFullDatagramsAreReadAndDroppedAndCounted) {
  CounterDelta dropped(Counter::kUdpDropped);
  world_.pressure().spoolFull = true;
  send(kLine);
  send(kLine);
  ASSERT_TRUE(runUntil([&] { return dropped() == 2; }));
  EXPECT_EQ(deliveredCount(), 0u);
  EXPECT_EQ(world_.problems().reported(Problem::kUdpDroppedSpoolFull), 1u);
  world_.pressure().spoolFull = false;
  send(kLine);
  ASSERT_TRUE(runUntil([&] { return deliveredCount() == 1; }));
}

TEST_F(UdpReceiverTest, WhileTheEncodersAreBehindDatagramsWaitInTheSocketThenAreRead) {
  CounterDelta pauses(Counter::kUdpReadPauses);
  CounterDelta dropped(Counter::kUdpDropped);
  world_.pressure().encodersBehind = true;
  send(kLine);
  ASSERT_TRUE(runUntil([&] { return pauses() >= 3; }));
  EXPECT_EQ(deliveredCount(), 0u);
  world_.pressure().encodersBehind = false;
  ASSERT_TRUE(runUntil([&] { return deliveredCount() == 1; }));
  EXPECT_EQ(dropped(), 0u);
}

TEST_F(UdpReceiverTest, DrainAndCloseReadsWhatTheKernelHolds) {
  send(kLine);
  send(kLine);
  // Not polled: both datagrams wait in the socket buffer.
  receiver_->drainAndClose();
  EXPECT_EQ(deliveredCount(), 2u);
}

class GelfUdpReceiverTest : public UdpReceiverTest {
 protected:
  static WorkerOptions gelf() {
    WorkerOptions o = testing::testOptions();
    o.gelf = true;
    return o;
  }
  GelfUdpReceiverTest() : UdpReceiverTest(gelf()) {}
  // GELF chunk: magic 0x1e 0x0f, 8-byte message id, sequence number, count, payload.
  static std::string chunk(char id, uint8_t sequence, uint8_t count, std::string_view payload) {
    std::string c = "\x1e\x0f";
    c.append(7, '\0');
    c.push_back(id);
    c.push_back(static_cast<char>(sequence));
    c.push_back(static_cast<char>(count));
    c.append(payload);
    return c;
  }
};

TEST_F(GelfUdpReceiverTest, ChunksAreReassembledIntoOneEvent) {
  CounterDelta chunked(Counter::kGelfChunkedMessages);
  send(chunk(1, 0, 2, R"({"version":"1.1","host":"h",)"));
  send(chunk(1, 1, 2, R"("short_message":"m"})"));
  ASSERT_TRUE(runUntil([&] { return deliveredCount() == 1; }));
  EXPECT_EQ(chunked(), 1u);
  EXPECT_EQ(world_.sink().batches[0].group, "gelf_message");
}

TEST_F(GelfUdpReceiverTest, AnIncompleteChunkSetExpiresFiveSecondsAfterItsFirstChunk) {
  CounterDelta expired(Counter::kGelfChunkSetsExpired);
  send(chunk(2, 0, 2, R"({"version":"1.1",)"));
  ASSERT_TRUE(runUntil([&] {
    return metrics::counters().get(Counter::kGelfChunks) > 0 && world_.timers().pending() > 0;
  }));
  EXPECT_EQ(expired(), 0u);
  // No traffic needed: the expiry timer follows the clock.
  world_.advance(5s);
  EXPECT_EQ(expired(), 1u);
  EXPECT_EQ(world_.problems().reported(Problem::kGelfChunkSetExpired), 1u);
  EXPECT_EQ(deliveredCount(), 0u);
}

TEST_F(GelfUdpReceiverTest, AtShutdownIncompleteSetsAreDroppedAsExpired) {
  CounterDelta expired(Counter::kGelfChunkSetsExpired);
  send(chunk(3, 0, 3, "{"));
  receiver_->drainAndClose();
  EXPECT_EQ(expired(), 1u);
}

}  // namespace
}  // namespace kinesyslog::net
