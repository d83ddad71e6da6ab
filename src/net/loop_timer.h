#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <system_error>
#include <utility>

#include "util/clock.h"

namespace kinesyslog::net {

// Timers that follow a ManualClock instead of the steady clock, for the network layer's unit
// tests: a wait armed through a LoopTimer is due when the manual clock reaches its deadline, and
// advance() posts it to its loop. Nothing here sleeps. One thread only.
class ManualTimers {
 public:
  using Handler = std::function<void(const std::error_code&)>;

  explicit ManualTimers(ManualClock& clock) : clock_(clock) {}
  ManualTimers(const ManualTimers&) = delete;
  ManualTimers& operator=(const ManualTimers&) = delete;

  const Clock& clock() const { return clock_; }
  // Registers a wait; returns its id for cancel().
  uint64_t arm(asio::io_context& io, int64_t deadlineMicros, Handler handler);
  // Posts the wait's handler with operation_aborted, as asio does for a cancelled timer.
  void cancel(uint64_t id);
  // Moves the clock forward and posts every wait now due, earliest first, with success. The
  // handlers run when the test runs the loop.
  void advance(std::chrono::microseconds delta);
  size_t pending() const { return waits_.size(); }
  // The deadline of the earliest wait, if any.
  bool nextDeadline(int64_t& deadlineMicros) const;

 private:
  struct Wait {
    asio::io_context* io;
    int64_t deadline;
    Handler handler;
  };
  ManualClock& clock_;
  uint64_t nextId_ = 1;
  std::map<uint64_t, Wait> waits_;
};

// A one-shot timer on a worker's loop, measured by the worker's clock: asio's steady timer in
// the relay (where the clock is the system's), a ManualTimers wait in a test. Semantics are
// asio's: re-arming or cancelling calls a pending handler with operation_aborted.
class LoopTimer {
 public:
  LoopTimer(asio::io_context& io, ManualTimers* manual) : real_(io), io_(io), manual_(manual) {}

  void expiresAfter(std::chrono::microseconds delay) {
    if (manual_ == nullptr) {
      real_.expires_after(delay);
      return;
    }
    cancel();
    deadline_ = manual_->clock().monotonicMicros() + delay.count();
  }
  // `monotonicMicros` on the clock's monotonic scale (the steady clock's, in the relay).
  void expiresAtMonotonic(int64_t monotonicMicros) {
    if (manual_ == nullptr) {
      real_.expires_at(
          std::chrono::steady_clock::time_point(std::chrono::microseconds(monotonicMicros)));
      return;
    }
    cancel();
    deadline_ = monotonicMicros;
  }
  template <typename Handler>
  void asyncWait(Handler&& handler) {
    if (manual_ == nullptr) {
      real_.async_wait(std::forward<Handler>(handler));
      return;
    }
    manualWait_ = manual_->arm(io_, deadline_, std::forward<Handler>(handler));
  }
  void cancel() {
    if (manual_ == nullptr) {
      real_.cancel();
      return;
    }
    if (manualWait_ != 0) manual_->cancel(manualWait_);
    manualWait_ = 0;
  }

 private:
  asio::steady_timer real_;
  asio::io_context& io_;
  ManualTimers* manual_;  // null: the relay's real time
  int64_t deadline_ = 0;
  uint64_t manualWait_ = 0;
};

}  // namespace kinesyslog::net
