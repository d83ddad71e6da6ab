#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/calendar.h"

namespace kinesyslog::syslog {

// The calendar (util/calendar.h) under the names the syslog parsers use.
using kinesyslog::CivilDate;
using kinesyslog::civilFromDays;
using kinesyslog::daysFromCivil;
using kinesyslog::daysInMonth;
using kinesyslog::floorDiv;
using kinesyslog::isLeapYear;
using kinesyslog::kMicrosPerDay;
using kinesyslog::kMicrosPerSecond;
using kinesyslog::kSecondsPerDay;

// The zone of `--rfc3164-timezone`, in which timestamps without an offset (RFC 3164 always,
// RFC 3339 without offset) are read. Resolved once at start with find(); afterwards immutable,
// cheap to query from any thread, allocation-free and non-throwing.
//
// UTC (and zones that are UTC in all but name, such as Etc/UTC) is pure arithmetic. Any other
// zone is read once from the system tz database (Howard Hinnant's date/tz, /usr/share/zoneinfo)
// into a table of offset changes; queries are a binary search in it, with no call into date/tz
// on the data path. Known limit: Debian's date/tz (3.0.1) does not apply a zone's rule beyond the
// last transition stored in its TZif file (2037 in Debian's files), so later years keep the
// last offset (standard time for zones with DST).
class LocalZone {
 public:
  // nullopt when the name is not a zone of the tz database (the caller reports a usage error).
  // `UTC` and `Etc/UTC` never touch the tz database.
  [[nodiscard]] static std::optional<LocalZone> find(std::string_view name);
  static LocalZone utc();

  // UTC for a local wall-clock time. Around offset changes the local time may exist twice (a
  // DST end: 02:30 in Berlin on the last Sunday of October) or not at all (a DST start: 02:30 on
  // the last Sunday of March); both cases take the earlier offset, the one in effect before the
  // change (as Python's fold=0 does): the first occurrence of an ambiguous time, and for a
  // skipped time the instant it would have been had the change not happened yet.
  // Domain: |micros| < 2^62 (about 146,000 years either side of 1970).
  int64_t localToUtcMicros(int64_t localMicros) const noexcept;
  int64_t utcToLocalMicros(int64_t utcMicros) const noexcept;

  std::string_view name() const noexcept { return name_; }
  bool isUtc() const noexcept { return changes_.empty(); }

 private:
  // From utcSeconds on (until the next entry), local time is UTC + offsetSeconds. The first
  // entry reaches back without limit; entries are sorted and adjacent offsets differ.
  struct OffsetChange {
    int64_t utcSeconds;
    int64_t offsetSeconds;
  };

  explicit LocalZone(std::string name) : name_(std::move(name)) {}

  size_t changeIndexAt(int64_t utcSeconds) const noexcept;

  std::string name_;
  std::vector<OffsetChange> changes_;  // empty for UTC
};

}  // namespace kinesyslog::syslog
