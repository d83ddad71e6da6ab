// Fuzz target for the syslog event builder (src/proto/syslog/syslog_event.h) and the UDP datagram
// unwrapper (src/proto/syslog/datagram.h): the path every syslog message takes into a batch.
// Input layout: byte 0 chooses --max-message-size, byte 1 the receive time (bit 0), the zone
// (bit 1) and whether the rest is a UDP datagram to unwrap first (bit 2); the rest is the
// message. Invariants:
//  - unwrapDatagram() returns a view inside the datagram that ends where the datagram's trailing
//    CR/LF/NUL start, and removes a leading `N SP` only when N is the exact count of the bytes
//    after the space;
//  - appendSyslogEvent() leaves what the arena held untouched, adds exactly `bytes` bytes and
//    one event for them (none for an empty message), cuts at the maximum exactly when the
//    stripped message is longer;
//  - a message with a usable header time is kept byte for byte with that time (rounded to the
//    millisecond), a NILVALUE one is kept with the receive time, and any other is rewritten as
//    `<PRI>1 <receive time> <source> <rest>`: a header that parses back to the receive time;
//  - building the same message twice gives the same event.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/syslog/datagram.h"
#include "proto/syslog/event_time.h"
#include "proto/syslog/local_zone.h"
#include "proto/syslog/syslog_event.h"
#include "record/source_batch.h"

namespace {

using kinesyslog::record::SourceBatch;
using kinesyslog::syslog::AppendedEvent;
using kinesyslog::syslog::daysFromCivil;
using kinesyslog::syslog::kMicrosPerDay;
using kinesyslog::syslog::kMicrosPerSecond;
using kinesyslog::syslog::LocalZone;

constexpr size_t kMaxSizes[] = {1, 8, 32, 480, 2048, 65536};
constexpr std::string_view kSource = "192.0.2.7";
constexpr std::string_view kArenaPrefix = "earlier message";

// 2026-06-15T12:00:00.123456Z and 2026-12-31T23:30:00Z (New Year in Berlin's local time).
constexpr int64_t kReceiveTimes[] = {
    daysFromCivil(2026, 6, 15) * kMicrosPerDay + 12 * 3600 * kMicrosPerSecond + 123456,
    daysFromCivil(2026, 12, 31) * kMicrosPerDay + (23 * 3600 + 30 * 60) * kMicrosPerSecond,
};

const LocalZone& zoneFor(bool dst) {
  static const LocalZone utc = LocalZone::utc();
  static const std::optional<LocalZone> berlin = LocalZone::find("Europe/Berlin");
  if (!berlin) __builtin_trap();  // no tz database: the harness is broken, not the parser
  return dst ? *berlin : utc;
}

bool isTrailer(char c) {
  return c == '\r' || c == '\n' || c == '\0';
}

void checkUnwrap(std::string_view datagram, std::string_view message) {
  const char* end = datagram.data() + datagram.size();
  if (message.data() < datagram.data() || message.data() + message.size() > end) __builtin_trap();
  // Everything after the message is trailer, and the message does not end in one.
  for (const char* p = message.data() + message.size(); p < end; ++p) {
    if (!isTrailer(*p)) __builtin_trap();
  }
  if (!message.empty() && isTrailer(message.back())) __builtin_trap();
  const size_t removed = static_cast<size_t>(message.data() - datagram.data());
  if (removed == 0) return;
  // RFC 6587 §3.4.1 octet count: digits, a space, and exactly that many bytes after it.
  const std::string_view prefix = datagram.substr(0, removed);
  if (removed < 2 || removed > 10 || prefix.back() != ' ' || prefix.front() == '0') {
    __builtin_trap();
  }
  uint64_t count = 0;
  for (char c : prefix.substr(0, removed - 1)) {
    if (c < '0' || c > '9') __builtin_trap();
    count = count * 10 + static_cast<uint64_t>(c - '0');
  }
  if (count != datagram.size() - removed) __builtin_trap();
}

void check(std::string_view message, int64_t receiveMicros, const LocalZone& zone, size_t maxSize) {
  SourceBatch batch;
  batch.addEvent(1, kArenaPrefix);
  const AppendedEvent result =
      kinesyslog::syslog::appendSyslogEvent(batch, message, receiveMicros, kSource, zone, maxSize);

  std::string_view stripped = kinesyslog::syslog::stripTrailingNewlines(message);
  if (result.truncated != (stripped.size() > maxSize)) __builtin_trap();
  stripped = stripped.substr(0, maxSize);

  if (std::string_view(batch.arena).substr(0, kArenaPrefix.size()) != kArenaPrefix ||
      batch.arena.size() != kArenaPrefix.size() + result.bytes) {
    __builtin_trap();
  }
  if (stripped.empty()) {
    if (result.bytes != 0 || batch.events.size() != 1 || result.rewritten) __builtin_trap();
    return;
  }
  if (batch.events.size() != 2) __builtin_trap();
  const auto& event = batch.events[1];
  if (event.offset != kArenaPrefix.size() || event.length != result.bytes) __builtin_trap();
  const std::string_view added = batch.message(event);

  const std::optional<int64_t> headerTime =
      kinesyslog::syslog::parseEventTimeMicros(stripped, receiveMicros, zone);
  if (headerTime) {
    if (result.rewritten || added != stripped) __builtin_trap();
    if (event.timestampMs != kinesyslog::syslog::roundMicrosToMillis(*headerTime)) {
      __builtin_trap();
    }
  } else if (kinesyslog::syslog::hasNilTimestamp(stripped)) {
    if (result.rewritten || added != stripped) __builtin_trap();
    if (event.timestampMs != kinesyslog::syslog::roundMicrosToMillis(receiveMicros)) {
      __builtin_trap();
    }
  } else {
    if (!result.rewritten) __builtin_trap();
    if (event.timestampMs != kinesyslog::syslog::roundMicrosToMillis(receiveMicros)) {
      __builtin_trap();
    }
    // The rewrite keeps the PRI (or adds user.notice), then states the receive time in a header
    // the parser reads back, then the source, then everything after the PRI.
    const auto split = kinesyslog::syslog::splitPri(stripped);
    const std::string_view pri = split.pri.empty() ? std::string_view("<13>") : split.pri;
    std::string expected(pri);
    expected += "1 ";
    char timestamp[kinesyslog::syslog::kRfc3339MicrosLength];
    expected.append(timestamp, kinesyslog::syslog::formatRfc3339Micros(receiveMicros, timestamp));
    expected += ' ';
    expected += kSource;
    expected += ' ';
    expected += split.rest;
    if (added != expected) __builtin_trap();
    if (kinesyslog::syslog::parseEventTimeMicros(added, receiveMicros, zone) != receiveMicros) {
      __builtin_trap();
    }
  }

  // The same message again gives the same event.
  SourceBatch again;
  const AppendedEvent second =
      kinesyslog::syslog::appendSyslogEvent(again, message, receiveMicros, kSource, zone, maxSize);
  if (second.bytes != result.bytes || second.truncated != result.truncated ||
      second.rewritten != result.rewritten || again.arena != added ||
      again.events.at(0).timestampMs != event.timestampMs) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t maxSize = kMaxSizes[data[0] % (sizeof kMaxSizes / sizeof kMaxSizes[0])];
  const int64_t receiveMicros = kReceiveTimes[data[1] & 1];
  const LocalZone& zone = zoneFor((data[1] & 2) != 0);
  std::string_view message(reinterpret_cast<const char*>(data) + 2, size - 2);
  if ((data[1] & 4) != 0) {
    const std::string_view unwrapped = kinesyslog::syslog::unwrapDatagram(message);
    checkUnwrap(message, unwrapped);
    message = unwrapped;
  }
  check(message, receiveMicros, zone, maxSize);
  return 0;
}
