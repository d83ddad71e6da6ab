// Fuzz target for the syslog header time parser (src/proto/syslog/event_time.h): arbitrary bytes
// are parsed in UTC and in a zone with DST, at two receive times (mid-year, and at New Year in
// the DST zone's local time). It must never crash, any time it returns must be from 1970 on and
// survive being formatted and parsed back as an RFC 5424 header unchanged.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "proto/syslog/event_time.h"
#include "proto/syslog/local_zone.h"

namespace {

using kinesyslog::syslog::daysFromCivil;
using kinesyslog::syslog::kMicrosPerDay;
using kinesyslog::syslog::kMicrosPerSecond;
using kinesyslog::syslog::LocalZone;

// 2026-06-15T12:00:00Z and 2026-12-31T23:30:00Z (2027-01-01 00:30 in Berlin).
constexpr int64_t kReceiveTimes[] = {
    daysFromCivil(2026, 6, 15) * kMicrosPerDay + 12 * 3600 * kMicrosPerSecond,
    daysFromCivil(2026, 12, 31) * kMicrosPerDay + (23 * 3600 + 30 * 60) * kMicrosPerSecond,
};

const LocalZone& utcZone() {
  static const LocalZone zone = LocalZone::utc();
  return zone;
}

const LocalZone& dstZone() {
  static const std::optional<LocalZone> zone = LocalZone::find("Europe/Berlin");
  if (!zone) __builtin_trap();  // no tz database: the harness is broken, not the parser
  return *zone;
}

void check(std::string_view input, int64_t receiveMicros, const LocalZone& zone) {
  const std::optional<int64_t> micros =
      kinesyslog::syslog::parseEventTimeMicros(input, receiveMicros, zone);
  if (!micros) return;
  if (*micros < 0) __builtin_trap();  // before 1970 is not a valid header time
  char header[6 + kinesyslog::syslog::kRfc3339MicrosLength];
  std::memcpy(header, "<13>1 ", 6);
  if (kinesyslog::syslog::formatRfc3339Micros(*micros, header + 6) !=
      kinesyslog::syslog::kRfc3339MicrosLength) {
    __builtin_trap();
  }
  const std::optional<int64_t> again = kinesyslog::syslog::parseEventTimeMicros(
      std::string_view(header, sizeof header), receiveMicros, utcZone());
  if (again != micros) __builtin_trap();
  (void)kinesyslog::syslog::roundMicrosToMillis(*micros);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The PRI split only ever cuts the message in two.
  const kinesyslog::syslog::PriSplit split = kinesyslog::syslog::splitPri(input);
  if (split.pri.size() + split.rest.size() != input.size() ||
      split.rest.data() + split.rest.size() != input.data() + input.size() ||
      (!split.pri.empty() && split.pri.data() != input.data())) {
    __builtin_trap();
  }

  // A NILVALUE header states no time: it never also yields one.
  if (kinesyslog::syslog::hasNilTimestamp(input) &&
      kinesyslog::syslog::parseEventTimeMicros(input, kReceiveTimes[0], utcZone())) {
    __builtin_trap();
  }

  for (const int64_t receiveMicros : kReceiveTimes) {
    check(input, receiveMicros, utcZone());
    check(input, receiveMicros, dstZone());
  }
  return 0;
}
