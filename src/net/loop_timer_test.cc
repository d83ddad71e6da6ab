#include "net/loop_timer.h"

#include <gtest/gtest.h>

#include <asio/error.hpp>

namespace kinesyslog::net {
namespace {

using namespace std::chrono_literals;

TEST(ManualTimers, AWaitRunsWhenTheClockReachesItsDeadlineAndNotBefore) {
  ManualClock clock;
  ManualTimers timers(clock);
  asio::io_context io;
  LoopTimer timer(io, &timers);
  std::vector<std::error_code> results;
  timer.expiresAfter(100ms);
  timer.asyncWait([&](const std::error_code& e) { results.push_back(e); });
  timers.advance(99ms);
  io.poll();
  EXPECT_TRUE(results.empty());
  timers.advance(1ms);
  io.restart();
  io.poll();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0]);
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(ManualTimers, RearmingOrCancellingAbortsThePendingWaitAsAsioDoes) {
  ManualClock clock;
  ManualTimers timers(clock);
  asio::io_context io;
  LoopTimer timer(io, &timers);
  std::vector<std::error_code> results;
  timer.expiresAfter(100ms);
  timer.asyncWait([&](const std::error_code& e) { results.push_back(e); });
  timer.expiresAfter(300ms);  // aborts the first wait
  timer.asyncWait([&](const std::error_code& e) { results.push_back(e); });
  io.poll();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0], asio::error::operation_aborted);
  timer.cancel();
  io.restart();
  io.poll();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1], asio::error::operation_aborted);
  timers.advance(1s);
  io.restart();
  io.poll();
  EXPECT_EQ(results.size(), 2u);
}

TEST(ManualTimers, DueWaitsRunEarliestFirst) {
  ManualClock clock;
  ManualTimers timers(clock);
  asio::io_context io;
  LoopTimer late(io, &timers), early(io, &timers);
  std::vector<int> order;
  late.expiresAtMonotonic(200);
  late.asyncWait([&](const std::error_code&) { order.push_back(2); });
  early.expiresAtMonotonic(100);
  early.asyncWait([&](const std::error_code&) { order.push_back(1); });
  timers.advance(1ms);
  io.poll();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace kinesyslog::net
