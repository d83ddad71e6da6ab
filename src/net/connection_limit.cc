#include "net/connection_limit.h"

#include <dirent.h>

#include <algorithm>

namespace kinesyslog::net {

namespace {
constexpr uint64_t kPerWorker = 2;
constexpr uint64_t kPerDestination = 8 * 2;
constexpr uint64_t kMetricsEndpoint = 32 + 1;
constexpr uint64_t kOther = 16;
}  // namespace

uint64_t descriptorReserve(unsigned workers, size_t destinations) {
  return kPerWorker * workers + kPerDestination * std::max<size_t>(destinations, 1) +
         kMetricsEndpoint + kOther;
}

uint64_t connectionLimit(uint64_t descriptorLimit, uint64_t openDescriptors, uint64_t reserve) {
  const uint64_t used = openDescriptors + reserve;
  return descriptorLimit > used ? descriptorLimit - used : 1;
}

uint64_t openDescriptorCount() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  uint64_t n = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;  // the directory stream's own descriptor
}

}  // namespace kinesyslog::net
