#include "metrics/relay_metrics.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "metrics/listener_counters.h"

namespace kinesyslog::metrics {
namespace {

std::set<std::string> typeLines(const std::string& text, std::multiset<std::string>* all) {
  std::set<std::string> families;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# TYPE ")) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      families.insert(name);
      all->insert(name);
    }
  }
  return families;
}

TEST(RelayMetrics, EveryCounterIsExported) {
  RelaySnapshot s;
  s.firehose = FirehoseSnapshot{};
  std::multiset<std::string> all;
  const auto families = typeLines(renderMetrics(s), &all);
  for (size_t i = 0; i < static_cast<size_t>(Counter::kCount); ++i) {
    const auto family = std::string(metricFamilyFor(static_cast<Counter>(i)));
    EXPECT_TRUE(families.count(family)) << counterName(static_cast<Counter>(i)) << " -> " << family;
  }
  // Each family is declared once.
  EXPECT_EQ(all.size(), families.size());
}

TEST(RelayMetrics, KeepsTheKinesyslog2Names) {
  RelaySnapshot s;
  std::multiset<std::string> all;
  const auto families = typeLines(renderMetrics(s), &all);
  for (const char* name :
       {"kinesyslog_message_count_total", "kinesyslog_message_bytes_total",
        "kinesyslog_batch_record_failed", "kinesyslog_listener_count", "kinesyslog_spool_count",
        "kinesyslog_spool_age", "kinesyslog_batch_records", "kinesyslog_batch_bytes",
        "kinesyslog_record_bytes", "process_resident_memory_bytes", "process_open_fds",
        "process_cpu_seconds_total", "process_start_time_seconds", "process_max_fds"}) {
    EXPECT_TRUE(families.count(name)) << name;
  }
}

TEST(RelayMetrics, ListenersAreSummedOverWorkers) {
  auto a = listeners().add("tcp", 6514);
  auto b = listeners().add("tcp", 6514);
  a->addMessages(2);
  b->addMessages(3);
  b->addBytes(40);
  const std::string text = renderMetrics(RelaySnapshot{});
  EXPECT_NE(text.find("kinesyslog_message_count_total{transport=\"tcp\",port=\"6514\"} 5\n"),
            std::string::npos);
  EXPECT_NE(text.find("kinesyslog_message_bytes_total{transport=\"tcp\",port=\"6514\"} 40\n"),
            std::string::npos);
}

TEST(RelayMetrics, CompressionCpuIsExportedInSeconds) {
  const uint64_t micros = counters().get(Counter::kCompressionCpuMicros);
  counters().add(Counter::kCompressionCpuMicros, 1'500'000);
  const std::string text = renderMetrics(RelaySnapshot{});
  const std::string expected = fmt::format("kinesyslog_compression_cpu_seconds_total {}\n",
                                           static_cast<double>(micros + 1'500'000) / 1e6);
  EXPECT_NE(text.find("# TYPE kinesyslog_compression_cpu_seconds_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find(expected), std::string::npos) << expected;
}

TEST(RelayMetrics, FirehoseErrorCodesAreLabels) {
  RelaySnapshot s;
  s.firehose = FirehoseSnapshot{};
  s.firehose->recordErrors["ServiceUnavailableException"] = 4;
  const std::string text = renderMetrics(s);
  EXPECT_NE(text.find("kinesyslog_firehose_record_errors_total{error_code="
                      "\"ServiceUnavailableException\"} 4\n"),
            std::string::npos);
}

}  // namespace
}  // namespace kinesyslog::metrics
