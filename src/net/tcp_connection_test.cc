#include "net/tcp_connection.h"

#include <gtest/gtest.h>

#include "net/net_test_support.h"
#include "net/tls_context.h"
#include "net/tls_test_support.h"

namespace kinesyslog::net {
namespace {

using metrics::Counter;
using metrics::Problem;
using namespace std::chrono_literals;
using testing::CounterDelta;
using testing::LoopbackClient;
using testing::LoopbackListener;
using testing::ManualWorld;

constexpr std::string_view kLine = "<13>1 2026-01-02T03:04:05Z host app - - - hello";

// One accepted loopback connection handled by a TcpConnection in a manual world.
class TcpConnectionTest : public ::testing::Test {
 protected:
  explicit TcpConnectionTest(WorkerOptions options = testing::testOptions()) : world_(options) {}

  std::shared_ptr<TcpConnection> connect(LoopbackClient& client,
                                         std::shared_ptr<const TlsContext> tls = nullptr) {
    EXPECT_TRUE(client.connected());
    auto connection =
        std::make_shared<TcpConnection>(world_.context(), listener_.accept(world_.context().io()),
                                        "192.0.2.9", "syslog_message", std::move(tls));
    world_.context().adopt(connection);
    connection->start();
    return connection;
  }
  size_t deliveredCount() { return world_.delivered().size(); }

  ManualWorld world_;
  LoopbackListener listener_;
};

TEST_F(TcpConnectionTest, ReadsMessagesAndDeliversThePartialOneWhenThePeerCloses) {
  CounterDelta incomplete(Counter::kFramesIncomplete);
  LoopbackClient client(listener_.port());
  auto connection = connect(client);
  client.send(std::string(kLine) + "\n" + std::string(kLine) + " and no end");
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().partialBudget().total() > 0; }));
  client.close();
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().idle(); }));
  EXPECT_EQ(world_.delivered(),
            (std::vector<std::string>{std::string(kLine), std::string(kLine) + " and no end"}));
  EXPECT_EQ(incomplete(), 1u);
  EXPECT_EQ(world_.context().partialBudget().total(), 0u);
}

TEST_F(TcpConnectionTest, AnIdleConnectionHoldsNoBudgetAndNoMessageBytes) {
  LoopbackClient client(listener_.port());
  auto connection = connect(client);
  client.send(std::string(kLine) + "\n");
  ASSERT_TRUE(world_.pollUntil([&] { return deliveredCount() == 1; }));
  // Whole messages only: nothing is held between reads, the read buffer is the worker's.
  EXPECT_EQ(world_.context().partialBudget().total(), 0u);
  EXPECT_EQ(world_.context().partialBudget().holders(), 1u);
  client.close();
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().idle(); }));
  EXPECT_EQ(world_.context().partialBudget().holders(), 0u);
}

TEST_F(TcpConnectionTest, BackpressurePausesReadingAndTheRecheckResumesIt) {
  CounterDelta pauses(Counter::kTcpReadPauses);
  world_.pressure().encodersBehind = true;
  LoopbackClient client(listener_.port());
  auto connection = connect(client);
  client.send(std::string(kLine) + "\n");
  ASSERT_TRUE(world_.pollUntil([&] { return pauses() >= 1; }));
  // Still blocked: each recheck pauses again, and nothing is read.
  world_.advance(20ms);
  world_.advance(20ms);
  EXPECT_GE(pauses(), 3u);
  EXPECT_EQ(deliveredCount(), 0u);
  world_.pressure().encodersBehind = false;
  const uint64_t pausedSoFar = pauses();
  world_.advance(20ms);
  ASSERT_TRUE(world_.pollUntil([&] { return deliveredCount() == 1; }));
  EXPECT_EQ(pauses(), pausedSoFar);
}

TEST_F(TcpConnectionTest, DrainClosesAfterTheIdleTimeWithoutDataAndNotBefore) {
  LoopbackClient client(listener_.port());
  auto connection = connect(client);
  client.send(std::string(kLine) + "\n" + "partial");
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().partialBudget().total() > 0; }));
  connection->beginDrain();
  world_.advance(400ms);
  // Data during the drain restarts the idle time.
  client.send(" more");
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().partialBudget().total() == 12; }));
  world_.advance(400ms);
  EXPECT_FALSE(world_.context().idle());
  EXPECT_FALSE(client.peerClosed());
  world_.advance(150ms);
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().idle(); }));
  EXPECT_TRUE(world_.pollUntil([&] { return client.peerClosed(); }));
  // Without a timestamp of its own the partial message takes the time the drain closed it, by
  // the injected clock: 950 ms after the world's start.
  EXPECT_EQ(
      world_.delivered(),
      (std::vector<std::string>{std::string(kLine),
                                "<13>1 2023-11-14T22:13:20.950000+00:00 192.0.2.9 partial more"}));
}

// Idle during the drain means the peer sent nothing, not that the worker read nothing: a worker
// kept from reading past the idle time (a busy machine) must not reset a connection whose bytes
// already wait in the kernel. Before this was checked, such a connection lost them.
TEST_F(TcpConnectionTest, DrainKeepsAConnectionWhoseBytesWaitUnread) {
  LoopbackClient client(listener_.port());
  auto connection = connect(client);
  client.send(std::string(kLine) + "\n");
  ASSERT_TRUE(world_.pollUntil([&] { return deliveredCount() == 1; }));
  connection->beginDrain();
  // Sent in time, but the clock passes the idle time before the loop gets to read it.
  client.send(std::string(kLine) + " late\n");
  world_.advance(600ms);
  EXPECT_FALSE(client.peerClosed());
  ASSERT_TRUE(world_.pollUntil([&] { return deliveredCount() == 2; }));
  world_.advance(600ms);
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().idle(); }));
  EXPECT_EQ(world_.delivered(),
            (std::vector<std::string>{std::string(kLine), std::string(kLine) + " late"}));
}

TEST_F(TcpConnectionTest, CloseNowDeliversThePartialMessage) {
  LoopbackClient client(listener_.port());
  auto connection = connect(client);
  client.send("<13>cut short");
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().partialBudget().total() > 0; }));
  connection->closeNow();
  world_.poll();
  EXPECT_TRUE(world_.context().idle());
  ASSERT_EQ(world_.delivered().size(), 1u);
  EXPECT_TRUE(world_.pollUntil([&] { return client.peerClosed(); }));
}

class SmallBudgetTest : public TcpConnectionTest {
 protected:
  static WorkerOptions options() {
    WorkerOptions o = testing::testOptions();
    o.maxMessageSize = 100;
    o.partialBudgetBytes = 150;  // one connection's maximum and a half
    return o;
  }
  SmallBudgetTest() : TcpConnectionTest(options()) {}
};

TEST_F(SmallBudgetTest, AReadCutsTheLargestPartialMessageToStayWithinTheBudget) {
  CounterDelta cuts(Counter::kPartialBudgetCuts);
  LoopbackClient first(listener_.port());
  auto a = connect(first);
  first.send("<13>" + std::string(76, 'a'));  // 80 bytes held
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().partialBudget().total() == 80; }));
  LoopbackClient second(listener_.port());
  auto b = connect(second);
  second.send("<13>b");
  // Before b reads, 80 held + b's 100 would pass 150: a's partial message is cut (delivered
  // truncated), b's read goes ahead.
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().partialBudget().total() == 5; }));
  EXPECT_EQ(cuts(), 1u);
  EXPECT_EQ(world_.problems().reported(Problem::kPartialBudgetCut), 1u);
  const auto messages = world_.delivered();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find(std::string(76, 'a')), std::string::npos);
  EXPECT_LE(world_.context().partialBudget().total(), world_.context().partialBudget().limit());
}

class TlsConnectionTest : public TcpConnectionTest {
 protected:
  std::shared_ptr<const TlsContext> serverContext() {
    TlsSettings settings;
    settings.certFile = pki_.certFile;
    settings.keyFile = pki_.keyFile;
    return TlsContext::load(settings);
  }
  testing::TestPki pki_;
};

TEST_F(TlsConnectionTest, AClientThatNeverCompletesTheHandshakeIsClosedAtTheTimeout) {
  CounterDelta timeouts(Counter::kTlsHandshakeTimeouts);
  LoopbackClient client(listener_.port());
  auto connection = connect(client, serverContext());
  client.send("\x16\x03\x01");  // the start of a ClientHello, and then nothing
  world_.poll();
  world_.advance(9'999ms);
  EXPECT_FALSE(world_.context().idle());
  EXPECT_EQ(timeouts(), 0u);
  world_.advance(1ms);
  ASSERT_TRUE(world_.pollUntil([&] { return world_.context().idle(); }));
  EXPECT_EQ(timeouts(), 1u);
  EXPECT_EQ(world_.problems().reported(Problem::kTlsHandshakeTimeout), 1u);
  EXPECT_TRUE(world_.pollUntil([&] { return client.peerClosed(); }));
  EXPECT_TRUE(world_.delivered().empty());
}

}  // namespace
}  // namespace kinesyslog::net
