#include "net/proxy_preface.h"

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

class ProxyPrefaceTest : public ::testing::Test {
 protected:
  std::shared_ptr<ProxyPreface> start(LoopbackClient& client) {
    EXPECT_TRUE(client.connected());
    auto preface = std::make_shared<ProxyPreface>(
        world_.context(), listener_.accept(world_.context().io()), "127.0.0.1", 6514,
        [this](asio::ip::tcp::socket socket, std::string source) {
          handedOff_ = std::move(socket);
          source_ = std::move(source);
        });
    world_.context().adoptPreface(preface);
    preface->start();
    return preface;
  }
  // What the next stage reads from the handed-off socket.
  std::string nextStageReads() {
    char buffer[256];
    std::string text;
    world_.pollUntil([&] {
      ssize_t n = ::recv(handedOff_->native_handle(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) text.append(buffer, static_cast<size_t>(n));
      return !text.empty();
    });
    return text;
  }

  ManualWorld world_;
  LoopbackListener listener_;
  std::optional<asio::ip::tcp::socket> handedOff_;
  std::string source_;
};

TEST_F(ProxyPrefaceTest, AV1HeaderNamesTheSourceAndOnlyTheHeaderIsConsumed) {
  CounterDelta accepted(Counter::kProxyHeadersAccepted);
  LoopbackClient client(listener_.port());
  client.send("PROXY TCP4 192.0.2.1 198.51.100.2 40000 6514\r\n<13>after the header\n");
  auto preface = start(client);
  ASSERT_TRUE(world_.pollUntil([&] { return handedOff_.has_value(); }));
  EXPECT_EQ(source_, "192.0.2.1");
  EXPECT_EQ(accepted(), 1u);
  EXPECT_EQ(nextStageReads(), "<13>after the header\n");
}

TEST_F(ProxyPrefaceTest, AHeaderInPiecesIsWaitedForThenHandedOff) {
  LoopbackClient client(listener_.port());
  auto preface = start(client);
  client.send("PROXY TCP4 192.0.2.1 198.51");
  world_.poll();
  EXPECT_FALSE(handedOff_.has_value());
  client.send(".100.2 40000 6514\r\nx");
  ASSERT_TRUE(world_.pollUntil([&] { return handedOff_.has_value(); }));
  EXPECT_EQ(source_, "192.0.2.1");
  EXPECT_EQ(nextStageReads(), "x");
}

TEST_F(ProxyPrefaceTest, LocalKeepsTheRealPeer) {
  LoopbackClient client(listener_.port());
  client.send("PROXY UNKNOWN\r\n");
  auto preface = start(client);
  ASSERT_TRUE(world_.pollUntil([&] { return handedOff_.has_value(); }));
  EXPECT_EQ(source_, "127.0.0.1");
}

TEST_F(ProxyPrefaceTest, NoCompleteHeaderWithinTheTimeoutClosesAndCounts) {
  CounterDelta timeouts(Counter::kProxyHeaderTimeouts);
  LoopbackClient client(listener_.port());
  client.send("PROXY TCP4 ");
  auto preface = start(client);
  world_.advance(4'999ms);
  EXPECT_EQ(timeouts(), 0u);
  EXPECT_FALSE(client.peerClosed());
  world_.advance(1ms);
  EXPECT_EQ(timeouts(), 1u);
  EXPECT_EQ(world_.problems().reported(Problem::kProxyHeaderTimeout), 1u);
  EXPECT_FALSE(handedOff_.has_value());
  EXPECT_TRUE(world_.pollUntil([&] { return client.peerClosed(); }));
}

TEST_F(ProxyPrefaceTest, AMalformedHeaderIsRejected) {
  CounterDelta rejected(Counter::kProxyHeadersRejected);
  LoopbackClient client(listener_.port());
  client.send("<13>syslog without a header\n");
  auto preface = start(client);
  ASSERT_TRUE(world_.pollUntil([&] { return rejected() == 1; }));
  EXPECT_FALSE(handedOff_.has_value());
  EXPECT_EQ(world_.problems().reported(Problem::kProxyHeaderRejected), 1u);
  EXPECT_TRUE(world_.pollUntil([&] { return client.peerClosed(); }));
}

TEST_F(ProxyPrefaceTest, APeerThatClosesMidHeaderIsRejected) {
  CounterDelta rejected(Counter::kProxyHeadersRejected);
  LoopbackClient client(listener_.port());
  auto preface = start(client);
  client.send("PROXY TCP4 192.0.2.1");
  client.shutdownWrite();
  ASSERT_TRUE(world_.pollUntil([&] { return rejected() == 1; }));
  EXPECT_FALSE(handedOff_.has_value());
}

TEST_F(ProxyPrefaceTest, AbandonAtShutdownClosesAPrefaceStillWaiting) {
  CounterDelta abandoned(Counter::kProxyHeadersAbandoned);
  LoopbackClient client(listener_.port());
  auto preface = start(client);
  world_.poll();
  preface->abandon();
  EXPECT_EQ(abandoned(), 1u);
  EXPECT_FALSE(handedOff_.has_value());
  EXPECT_TRUE(world_.pollUntil([&] { return client.peerClosed(); }));
}

TEST_F(ProxyPrefaceTest, AbandonStillSettlesAHeaderThatHasArrived) {
  CounterDelta abandoned(Counter::kProxyHeadersAbandoned);
  LoopbackClient client(listener_.port());
  auto preface = start(client);
  world_.poll();
  client.send("PROXY TCP4 192.0.2.1 198.51.100.2 40000 6514\r\n");
  preface->abandon();  // before the loop has seen the header
  EXPECT_EQ(abandoned(), 0u);
  ASSERT_TRUE(handedOff_.has_value());
  EXPECT_EQ(source_, "192.0.2.1");
}

}  // namespace
}  // namespace kinesyslog::net
