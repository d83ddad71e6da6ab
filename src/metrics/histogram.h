#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace kinesyslog::metrics {

// A Prometheus histogram over whole-number observations (bytes, records, microseconds) with
// fixed upper bounds. Recording is lock-free: a short search over the bounds and two relaxed
// atomic adds, so it may sit on any thread. A scrape reads the buckets one by one; a value
// recorded meanwhile may show in the sum before its bucket (Prometheus tolerates that).
class Histogram {
 public:
  // `bounds` ascending, each an inclusive upper bound ("le"); +Inf is implicit.
  explicit Histogram(std::vector<uint64_t> bounds);

  void observe(uint64_t value);

  struct Snapshot {
    std::vector<uint64_t> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    uint64_t sum = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<uint64_t> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bound, then +Inf
  std::atomic<uint64_t> sum_{0};
};

// `count` bounds from `first`, each `factor` times the one before.
std::vector<uint64_t> exponentialBounds(uint64_t first, double factor, int count);
// `count` bounds `step`, 2*step, ... count*step.
std::vector<uint64_t> linearBounds(uint64_t step, int count);

}  // namespace kinesyslog::metrics
