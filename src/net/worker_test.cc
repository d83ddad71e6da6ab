#include "net/worker.h"

#include <gtest/gtest.h>

#include "net/net_test_support.h"

namespace kinesyslog::net {
namespace {

using namespace std::chrono_literals;
using testing::CollectingSink;
using testing::LoopbackClient;
using testing::LoopbackListener;

constexpr std::string_view kLine = "<13>1 2026-01-02T03:04:05Z host app - - - hello";

// A Worker on a manual clock whose loop the test runs on its own thread (startHandlers, then
// the loop, then finishLoop), with one TCP listener on loopback.
class WorkerTest : public ::testing::Test {
 protected:
  WorkerTest()
      : clock_(1'700'000'000'000'000),
        timers_(clock_),
        worker_(testing::testOptions(), sink_, pressure_.backpressure, nullptr,
                WorkerTime{&clock_, &timers_}) {
    worker_.addTcpListener(socket_.release(), 514, false);
    worker_.startHandlers();
  }

  asio::io_context& io() { return worker_.context().io(); }
  void poll() {
    for (int round = 0; round < 8; ++round) {
      io().restart();
      if (io().poll() == 0) return;
    }
  }
  bool pollUntil(const std::function<bool()>& done) {
    for (int round = 0; round < 500 && !done(); ++round) {
      io().restart();
      io().run_one_for(10ms);
      poll();
    }
    return done();
  }
  void advance(std::chrono::microseconds delta) {
    timers_.advance(delta);
    poll();
  }
  int64_t now() const { return clock_.monotonicMicros(); }
  // The loop has nothing left to do: a worker thread's run() would return.
  bool loopEnded() {
    io().restart();
    io().run_for(100ms);
    return io().stopped();
  }

  ManualClock clock_;
  ManualTimers timers_;
  CollectingSink sink_;
  testing::SwitchedBackpressure pressure_;
  LoopbackListener socket_;
  uint16_t port_ = socket_.port();
  Worker worker_;
};

TEST_F(WorkerTest, ShutdownDrainsAConnectionUntilItIsIdleThenDeliversEverything) {
  LoopbackClient client(port_);
  client.send(std::string(kLine) + "\n" + "<13>partial");
  ASSERT_TRUE(pollUntil([&] { return worker_.context().partialBudget().total() > 0; }));
  worker_.requestShutdownAt(now() + 10'000'000);
  poll();
  EXPECT_TRUE(worker_.context().shuttingDown());
  // The connection drains: open until 500 ms pass without data (WorkerOptions::drainIdle).
  advance(499ms);
  EXPECT_FALSE(worker_.context().idle());
  EXPECT_FALSE(client.peerClosed());
  advance(1ms);
  ASSERT_TRUE(pollUntil([&] { return worker_.context().idle(); }));
  EXPECT_TRUE(loopEnded());
  worker_.finishLoop();
  ASSERT_EQ(sink_.messages().size(), 2u);
  EXPECT_EQ(sink_.messages()[0], kLine);
  EXPECT_TRUE(client.peerClosed());
}

TEST_F(WorkerTest, AtTheDeadlineAConnectionStillSendingIsClosedAndItsPartialDelivered) {
  LoopbackClient client(port_);
  client.send("<13>first");
  ASSERT_TRUE(pollUntil([&] { return worker_.context().partialBudget().total() > 0; }));
  worker_.requestShutdownAt(now() + 1'000'000);
  poll();
  // Data every 400 ms keeps the drain going ...
  for (int i = 0; i < 2; ++i) {
    advance(400ms);
    client.send(" more");
    ASSERT_TRUE(pollUntil([&] {
      return worker_.context().partialBudget().total() == 9 + 5 * static_cast<size_t>(i + 1);
    }));
  }
  EXPECT_FALSE(worker_.context().idle());
  // ... until the deadline, 1 s after the request.
  advance(200ms);
  ASSERT_TRUE(pollUntil([&] { return worker_.context().idle(); }));
  EXPECT_TRUE(loopEnded());
  worker_.finishLoop();
  ASSERT_EQ(sink_.messages().size(), 1u);
  EXPECT_NE(sink_.messages()[0].find("first more more"), std::string::npos);
}

TEST_F(WorkerTest, ShutdownWithNothingOpenEndsTheLoopAtOnce) {
  worker_.requestShutdownAt(now() + 10'000'000);
  poll();
  EXPECT_TRUE(loopEnded());
  LoopbackClient late(port_);
  EXPECT_FALSE(late.connected());
}

TEST_F(WorkerTest, TheFlushTickHandsOnABatchOnceItIsAsOldAsTheFlushInterval) {
  LoopbackClient client(port_);
  client.send(std::string(kLine) + "\n");
  ASSERT_TRUE(pollUntil([&] { return worker_.context().batcher().bufferedBytes() > 0; }));
  advance(900ms);
  EXPECT_TRUE(sink_.batches.empty());
  // The tick runs every quarter interval (250 ms): the batch, 1 s old, goes by the next one.
  advance(350ms);
  ASSERT_EQ(sink_.batches.size(), 1u);
  EXPECT_EQ(sink_.messages(), std::vector<std::string>{std::string(kLine)});
}

}  // namespace
}  // namespace kinesyslog::net
