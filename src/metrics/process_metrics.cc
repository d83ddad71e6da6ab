#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace kinesyslog::metrics {

namespace {

std::string readFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::optional<uint64_t> toNumber(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

uint64_t countOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  uint64_t n = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;  // the listing's own descriptor
}

}  // namespace

std::optional<ProcessStats> parseProcStat(std::string_view stat, long ticksPerSecond, long pageSize,
                                          double bootTimeSeconds) {
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticksPerSecond <= 0) return std::nullopt;
  std::vector<std::string_view> fields;  // fields[0] is field 3 (state)
  std::string_view rest = stat.substr(close + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n')) rest.remove_prefix(1);
    const size_t end = rest.find_first_of(" \n");
    if (!rest.empty()) fields.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  // proc(5): utime 14, stime 15, starttime 22, rss 24.
  if (fields.size() < 22) return std::nullopt;
  auto utime = toNumber(fields[11]);
  auto stime = toNumber(fields[12]);
  auto start = toNumber(fields[19]);
  auto rss = toNumber(fields[21]);
  if (!utime || !stime || !start || !rss) return std::nullopt;
  ProcessStats s;
  const auto ticks = static_cast<double>(ticksPerSecond);
  s.cpuSeconds = static_cast<double>(*utime + *stime) / ticks;
  s.startTimeSeconds = bootTimeSeconds + static_cast<double>(*start) / ticks;
  s.residentBytes = *rss * static_cast<uint64_t>(pageSize);
  return s;
}

std::optional<double> parseBootTime(std::string_view procStat) {
  size_t at = 0;
  while (at < procStat.size()) {
    size_t end = procStat.find('\n', at);
    if (end == std::string_view::npos) end = procStat.size();
    const std::string_view line = procStat.substr(at, end - at);
    if (line.starts_with("btime ")) {
      auto value = toNumber(line.substr(6));
      if (value) return static_cast<double>(*value);
      return std::nullopt;
    }
    at = end + 1;
  }
  return std::nullopt;
}

ProcessStats readProcessStats() {
  const double boot = parseBootTime(readFile("/proc/stat")).value_or(0);
  ProcessStats s = parseProcStat(readFile("/proc/self/stat"), ::sysconf(_SC_CLK_TCK),
                                 ::sysconf(_SC_PAGESIZE), boot)
                       .value_or(ProcessStats{});
  s.openFds = countOpenFds();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) s.maxFds = limit.rlim_cur;
  return s;
}

}  // namespace kinesyslog::metrics
