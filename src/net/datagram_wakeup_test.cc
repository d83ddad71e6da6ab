#include "net/datagram_wakeup.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/error.hpp>
#include <chrono>
#include <string_view>

namespace kinesyslog::net {
namespace {

using namespace std::chrono_literals;

// A bound UDP socket on 127.0.0.1 with a sender, and the wakeup watching it.
class DatagramWakeupTest : public ::testing::Test {
 protected:
  DatagramWakeupTest() {
    socket_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    address_.sin_family = AF_INET;
    address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(socket_, reinterpret_cast<sockaddr*>(&address_), sizeof address_), 0);
    socklen_t length = sizeof address_;
    ::getsockname(socket_, reinterpret_cast<sockaddr*>(&address_), &length);
    sender_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    wakeup_ = std::make_unique<DatagramWakeup>(io_, socket_);
  }
  ~DatagramWakeupTest() override {
    wakeup_.reset();
    ::close(sender_);
    ::close(socket_);
  }

  void send(std::string_view datagram = "x") {
    ASSERT_EQ(::sendto(sender_, datagram.data(), datagram.size(), 0,
                       reinterpret_cast<const sockaddr*>(&address_), sizeof address_),
              static_cast<ssize_t>(datagram.size()));
  }
  // Runs the loop until `calls` reaches `want` or 2 s pass.
  void runUntil(const int& calls, int want) {
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (calls < want && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_for(10ms);
    }
  }
  void waitCounting() {
    wakeup_->asyncWait([this](const std::error_code& error) {
      ++calls_;
      lastError_ = error;
    });
  }
  // Whether the worker's loop would be woken now: its one descriptor for this socket is readable.
  bool wouldWake() {
    pollfd watched{wakeup_->descriptor(), POLLIN, 0};
    return ::poll(&watched, 1, 0) == 1;
  }

  asio::io_context io_;
  int socket_ = -1;
  int sender_ = -1;
  sockaddr_in address_{};
  std::unique_ptr<DatagramWakeup> wakeup_;
  int calls_ = 0;
  std::error_code lastError_;
};

TEST_F(DatagramWakeupTest, ADatagramWakesTheWaitOnce) {
  waitCounting();
  io_.poll();
  EXPECT_EQ(calls_, 0);  // nothing to read yet
  send();
  runUntil(calls_, 1);
  EXPECT_EQ(calls_, 1);
  EXPECT_FALSE(lastError_);
}

TEST_F(DatagramWakeupTest, DatagramsArrivingBetweenWaitsWakeNothingThenTheNextWaitAtOnce) {
  waitCounting();
  send();
  runUntil(calls_, 1);
  ASSERT_EQ(calls_, 1);
  // The receiver now waits on a timer to fill a batch: what arrives meanwhile (the first datagram
  // is still unread) must not make the loop's descriptor readable.
  for (int i = 0; i < 50; ++i) send();
  EXPECT_FALSE(wouldWake());
  io_.restart();
  EXPECT_EQ(io_.poll(), 0u);
  // Waiting again with datagrams already there completes at once.
  waitCounting();
  runUntil(calls_, 2);
  EXPECT_EQ(calls_, 2);
  EXPECT_FALSE(lastError_);
}

TEST_F(DatagramWakeupTest, CloseEndsThePendingWait) {
  waitCounting();
  io_.poll();
  wakeup_->close();
  runUntil(calls_, 1);
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(lastError_, asio::error::operation_aborted);
}

}  // namespace
}  // namespace kinesyslog::net
