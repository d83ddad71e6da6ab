#include "proto/syslog/local_zone.h"

// Debian's libdate-tz is built to read the OS tz database (its CMake package exports
// USE_OS_TZDB=1, and ONLY_C_LOCALE=1 and HAS_STRING_VIEW=1 through date::date). This file must
// see the same values, or date::time_zone here would have another layout than in the library.
#ifndef USE_OS_TZDB
#define USE_OS_TZDB 1
#endif
#ifndef ONLY_C_LOCALE
#define ONLY_C_LOCALE 1
#endif
#ifndef HAS_STRING_VIEW
#define HAS_STRING_VIEW 1
#endif
#if !USE_OS_TZDB
#error "Debian's libdate-tz reads /usr/share/zoneinfo: compile with USE_OS_TZDB=1"
#endif

#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>

namespace kinesyslog::syslog {

namespace {

// The widest real offset is +14:00; anything past a day would break the search window of
// localToUtcMicros, so such a zone is refused rather than misread.
constexpr int64_t kMaxOffsetSeconds = 26 * 3600;
// Offset changes are read for these years (RFC 3339 years are 4 digits); before the first,
// the first offset applies, after the last the last one.
constexpr int kFirstYearRead = 1;
constexpr int kLastYearRead = 9999;
// Real zones have a few hundred changes; this only stops a corrupt database from looping.
constexpr size_t kMaxChanges = 100'000;

}  // namespace

std::optional<LocalZone> LocalZone::find(std::string_view name) {
  if (name == "UTC" || name == "Etc/UTC") return LocalZone(std::string(name));

  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(name);
  } catch (const std::runtime_error&) {
    // Unknown name (or no readable tz database at all): the caller's usage error.
    return std::nullopt;
  }

  LocalZone result{std::string(name)};
  const date::sys_seconds last{date::sys_days{date::year{kLastYearRead} / 1 / 1}};
  date::sys_seconds at{date::sys_days{date::year{kFirstYearRead} / 1 / 1}};
  for (;;) {
    const date::sys_info info = zone->get_info(at);
    const int64_t offset = info.offset.count();
    if (offset > kMaxOffsetSeconds || offset < -kMaxOffsetSeconds) return std::nullopt;
    // Only the total offset matters here: changes of abbreviation or of the DST flag alone
    // (same offset) are merged away, so every stored change really moves local time.
    if (result.changes_.empty()) {
      result.changes_.push_back({std::numeric_limits<int64_t>::min(), offset});
    } else if (result.changes_.back().offsetSeconds != offset) {
      result.changes_.push_back({info.begin.time_since_epoch().count(), offset});
    }
    if (info.end >= last || info.end <= at || result.changes_.size() >= kMaxChanges) break;
    at = info.end;
  }
  // A fixed zero offset (Etc/UTC by another name, Etc/GMT, Zulu...) takes the arithmetic path.
  if (result.changes_.size() == 1 && result.changes_.front().offsetSeconds == 0) {
    result.changes_.clear();
  }
  return result;
}

LocalZone LocalZone::utc() {
  return LocalZone("UTC");
}

size_t LocalZone::changeIndexAt(int64_t utcSeconds) const noexcept {
  // Invariant: changes_ is non-empty and its first entry starts at INT64_MIN, so the entry
  // found is never before the first.
  const auto after =
      std::upper_bound(changes_.begin(), changes_.end(), utcSeconds,
                       [](int64_t value, const OffsetChange& c) { return value < c.utcSeconds; });
  return static_cast<size_t>(after - changes_.begin()) - 1;
}

int64_t LocalZone::utcToLocalMicros(int64_t utcMicros) const noexcept {
  if (changes_.empty()) return utcMicros;
  const int64_t offset =
      changes_[changeIndexAt(floorDiv(utcMicros, kMicrosPerSecond))].offsetSeconds;
  return utcMicros + offset * kMicrosPerSecond;
}

int64_t LocalZone::localToUtcMicros(int64_t localMicros) const noexcept {
  if (changes_.empty()) return localMicros;
  // Changes happen on whole seconds and offsets are whole seconds, so comparing whole local
  // seconds against the local bounds of each entry is exact.
  const int64_t localSeconds = floorDiv(localMicros, kMicrosPerSecond);
  // Entry k is in effect for local times [start_k + offset_k, start_k+1 + offset_k). The entry in
  // effect a maximal offset before the local time begins no later than the local time, so the
  // scan starts there and walks forward; the first entry whose local span holds the time is the
  // earlier of two when the time is ambiguous.
  size_t k = changeIndexAt(localSeconds - kMaxOffsetSeconds);
  for (;; ++k) {
    const int64_t offset = changes_[k].offsetSeconds;
    if (k > 0 && localSeconds < changes_[k].utcSeconds + offset) {
      // Skipped by a forward jump (DST start): read with the offset before the jump.
      return localMicros - changes_[k - 1].offsetSeconds * kMicrosPerSecond;
    }
    if (k + 1 == changes_.size() || localSeconds < changes_[k + 1].utcSeconds + offset) {
      return localMicros - offset * kMicrosPerSecond;
    }
  }
}

}  // namespace kinesyslog::syslog
