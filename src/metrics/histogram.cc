#include "metrics/histogram.h"

#include <algorithm>

#include "metrics/internal_error.h"

namespace kinesyslog::metrics {

namespace {

// The bucket search needs ascending bounds; the bounds are constants in our code, so unsorted
// ones are our bug. Sorted here they still give every observation a bucket.
std::vector<uint64_t> sortedBounds(std::vector<uint64_t> bounds) {
  if (KINESYSLOG_BUG_IF(!std::is_sorted(bounds.begin(), bounds.end()),
                        "histogram bounds not in ascending order")) {
    std::sort(bounds.begin(), bounds.end());
  }
  return bounds;
}

}  // namespace

Histogram::Histogram(std::vector<uint64_t> bounds)
    : bounds_(sortedBounds(std::move(bounds))),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(uint64_t value) {
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<uint64_t> exponentialBounds(uint64_t first, double factor, int count) {
  std::vector<uint64_t> bounds;
  double value = static_cast<double>(first);
  for (int i = 0; i < count; ++i) {
    const auto bound = static_cast<uint64_t>(value + 0.5);
    if (bounds.empty() || bound > bounds.back()) bounds.push_back(bound);
    value *= factor;
  }
  return bounds;
}

std::vector<uint64_t> linearBounds(uint64_t step, int count) {
  std::vector<uint64_t> bounds;
  for (int i = 1; i <= count; ++i) bounds.push_back(step * static_cast<uint64_t>(i));
  return bounds;
}

}  // namespace kinesyslog::metrics
