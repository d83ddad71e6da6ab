#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kinesyslog::metrics {

// The process_* figures Prometheus client libraries export, read from /proc at each scrape.
struct ProcessStats {
  double cpuSeconds = 0;        // user + system
  double startTimeSeconds = 0;  // since the epoch
  uint64_t residentBytes = 0;
  uint64_t openFds = 0;
  uint64_t maxFds = 0;
};

// Fields of /proc/self/stat (proc(5)): utime, stime, starttime and rss. The command name may
// hold spaces and parentheses, so fields are counted after its last ')'. nullopt when the text
// is not such a line.
[[nodiscard]] std::optional<ProcessStats> parseProcStat(std::string_view stat, long ticksPerSecond,
                                                        long pageSize, double bootTimeSeconds);
// "btime N" of /proc/stat: boot time in seconds since the epoch.
[[nodiscard]] std::optional<double> parseBootTime(std::string_view procStat);

// This process, now. Figures that cannot be read stay 0.
ProcessStats readProcessStats();

}  // namespace kinesyslog::metrics
