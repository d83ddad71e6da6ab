#include "metrics/histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "metrics/exposition.h"

namespace kinesyslog::metrics {
namespace {

TEST(Histogram, BoundsAreInclusiveAndCumulative) {
  Histogram h({10, 100});
  for (uint64_t v : {0, 10, 11, 100, 101, 5000}) h.observe(v);
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 4, 6}));
  EXPECT_EQ(s.sum, 0u + 10 + 11 + 100 + 101 + 5000);
}

TEST(Histogram, ThreadsRecordWithoutLosingCounts) {
  Histogram h(linearBounds(10, 10));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (uint64_t i = 0; i < 100000; ++i) h.observe(i % 120);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.snapshot().cumulative.back(), 400000u);
}

TEST(Histogram, BoundHelpers) {
  EXPECT_EQ(linearBounds(50, 3), (std::vector<uint64_t>{50, 100, 150}));
  EXPECT_EQ(exponentialBounds(1000, 2, 4), (std::vector<uint64_t>{1000, 2000, 4000, 8000}));
}

TEST(Exposition, WritesTextFormat004) {
  Exposition out;
  out.family("a_total", "counter", "Help with \\ and\nnewline");
  out.sample("a_total", {{"reason", "quote\"back\\slash\nline"}}, uint64_t{7});
  out.sample("a_total", {}, 0.5);
  Histogram h({1000, 2000});
  h.observe(1500);
  out.family("d_seconds", "histogram", "Duration");
  out.histogram("d_seconds", {{"k", "v"}}, h.snapshot(), 1e6);
  EXPECT_EQ(out.text(),
            "# HELP a_total Help with \\\\ and\\nnewline\n"
            "# TYPE a_total counter\n"
            "a_total{reason=\"quote\\\"back\\\\slash\\nline\"} 7\n"
            "a_total 0.5\n"
            "# HELP d_seconds Duration\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{k=\"v\",le=\"0.001\"} 0\n"
            "d_seconds_bucket{k=\"v\",le=\"0.002\"} 1\n"
            "d_seconds_bucket{k=\"v\",le=\"+Inf\"} 1\n"
            "d_seconds_sum{k=\"v\"} 0.0015\n"
            "d_seconds_count{k=\"v\"} 1\n");
}

}  // namespace
}  // namespace kinesyslog::metrics
