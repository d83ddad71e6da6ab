#include "net/tcp_listener.h"

#include <gtest/gtest.h>

#include "net/net_test_support.h"

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

// A TcpListener on a loopback socket in a manual world. The listener's `port` names the log
// group and chooses PROXY protocol; the socket's own port is the kernel's choice.
class TcpListenerTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kPort = 514;

  explicit TcpListenerTest(WorkerOptions o = options()) : world_(o) {
    listener_ = std::make_unique<TcpListener>(world_.context(), socket_.release(), kPort, false);
    listener_->start();
  }
  static WorkerOptions options() {
    WorkerOptions o = testing::testOptions();
    o.groupPrefix = "prefix";
    return o;
  }
  size_t deliveredCount() { return world_.delivered().size(); }

  ManualWorld world_;
  LoopbackListener socket_;
  uint16_t socketPort_ = socket_.port();
  std::unique_ptr<TcpListener> listener_;
};

TEST_F(TcpListenerTest, AcceptedConnectionsAreFiledUnderThePeerAndThePortsGroup) {
  CounterDelta accepted(Counter::kTcpConnectionsAccepted);
  LoopbackClient client(socketPort_);
  client.send(std::string(kLine) + "\n");
  ASSERT_TRUE(world_.pollUntil([&] { return deliveredCount() == 1; }));
  EXPECT_EQ(accepted(), 1u);
  ASSERT_EQ(world_.sink().batches.size(), 1u);
  EXPECT_EQ(world_.sink().batches[0].group, "prefix/syslog/514");
  EXPECT_EQ(world_.sink().batches[0].stream, "127.0.0.1");
}

TEST_F(TcpListenerTest, AtShutdownQueuedConnectionsAreAcceptedThenTheSocketCloses) {
  LoopbackClient queued(socketPort_);
  queued.send(std::string(kLine) + "\n");
  // Not polled: the connection waits in the accept queue.
  listener_->acceptQueuedAndClose();
  EXPECT_FALSE(world_.context().idle());
  ASSERT_TRUE(world_.pollUntil([&] { return deliveredCount() == 1; }));
  LoopbackClient late(socketPort_);
  EXPECT_FALSE(late.connected());
}

class ProxyListenerTest : public TcpListenerTest {
 protected:
  static WorkerOptions proxied(std::string_view trusted) {
    WorkerOptions o = options();
    o.proxyProtocolPorts = {kPort};
    if (!trusted.empty()) o.proxyTrust = ProxyTrust({*parseNetwork(trusted).network});
    return o;
  }
  explicit ProxyListenerTest(std::string_view trusted = "") : TcpListenerTest(proxied(trusted)) {}
};

TEST_F(ProxyListenerTest, APortWithProxyProtocolHandsOffUnderTheProxiedSource) {
  CounterDelta accepted(Counter::kProxyHeadersAccepted);
  LoopbackClient client(socketPort_);
  client.send("PROXY TCP4 192.0.2.1 198.51.100.2 40000 514\r\n" + std::string(kLine) + "\n");
  ASSERT_TRUE(world_.pollUntil([&] { return deliveredCount() == 1; }));
  EXPECT_EQ(accepted(), 1u);
  EXPECT_EQ(world_.sink().batches[0].stream, "192.0.2.1");
}

TEST_F(ProxyListenerTest, APrefaceStillWaitingAtShutdownIsClosed) {
  CounterDelta abandoned(Counter::kProxyHeadersAbandoned);
  LoopbackClient client(socketPort_);
  ASSERT_TRUE(world_.pollUntil([&] { return !world_.context().prefaces().empty(); }));
  for (auto& preface : world_.context().prefaces()) preface->abandon();
  EXPECT_EQ(abandoned(), 1u);
  EXPECT_TRUE(world_.pollUntil([&] { return client.peerClosed(); }));
}

class UntrustedProxyListenerTest : public ProxyListenerTest {
 protected:
  UntrustedProxyListenerTest() : ProxyListenerTest("10.0.0.0/8") {}
};

TEST_F(UntrustedProxyListenerTest, APeerOutsideProxyTrustedIsClosedAtAccept) {
  CounterDelta untrusted(Counter::kProxyUntrustedPeers);
  LoopbackClient client(socketPort_);
  client.send("PROXY TCP4 192.0.2.1 198.51.100.2 40000 514\r\n" + std::string(kLine) + "\n");
  ASSERT_TRUE(world_.pollUntil([&] { return untrusted() == 1; }));
  EXPECT_EQ(world_.problems().reported(Problem::kProxyUntrustedPeer), 1u);
  EXPECT_TRUE(world_.context().prefaces().empty());
  EXPECT_TRUE(world_.context().idle());
  EXPECT_TRUE(world_.pollUntil([&] { return client.peerClosed(); }));
  EXPECT_EQ(deliveredCount(), 0u);
}

}  // namespace
}  // namespace kinesyslog::net
