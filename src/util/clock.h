#pragma once

#include <cstdint>

namespace kinesyslog {

// The relay's only source of time, injected so tests can stand at New Year or in any zone.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, microseconds since the Unix epoch (UTC).
  virtual int64_t nowMicros() const = 0;
  // Monotonic time in microseconds, for timeouts and flush ages; unrelated to the wall clock.
  virtual int64_t monotonicMicros() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t nowMicros() const override;
  int64_t monotonicMicros() const override;
  static const SystemClock& instance();
};

// A clock that only moves when told to; for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t nowMicros = 0) : now_(nowMicros), monotonic_(0) {}
  int64_t nowMicros() const override { return now_; }
  int64_t monotonicMicros() const override { return monotonic_; }
  void advanceMicros(int64_t delta) {
    now_ += delta;
    monotonic_ += delta;
  }
  void setNowMicros(int64_t now) { now_ = now; }

 private:
  int64_t now_;
  int64_t monotonic_;
};

}  // namespace kinesyslog
