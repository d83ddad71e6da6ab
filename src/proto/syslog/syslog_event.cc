#include "proto/syslog/syslog_event.h"

#include "proto/syslog/datagram.h"
#include "proto/syslog/event_time.h"
#include "proto/syslog/local_zone.h"

namespace kinesyslog::syslog {

namespace {
// RFC 5424 §6.2.1: a message without PRI is treated as user.notice (1 * 8 + 5).
constexpr std::string_view kDefaultPri = "<13>";
}  // namespace

AppendedEvent appendSyslogEvent(record::SourceBatch& batch, std::string_view message,
                                int64_t receiveMicros, std::string_view source,
                                const LocalZone& zone, size_t maxMessageSize) {
  AppendedEvent result;
  message = stripTrailingNewlines(message);
  if (message.size() > maxMessageSize) {
    message = message.substr(0, maxMessageSize);
    result.truncated = true;
  }
  if (message.empty()) return result;

  std::string& arena = batch.arena;
  const size_t offset = arena.size();
  int64_t eventMicros = receiveMicros;
  if (auto headerTime = parseEventTimeMicros(message, receiveMicros, zone)) {
    eventMicros = *headerTime;
    arena.append(message);
  } else if (hasNilTimestamp(message)) {
    arena.append(message);  // RFC 5424 already, without a time: the receive time, no rewrite
  } else {
    result.rewritten = true;
    const PriSplit split = splitPri(message);
    char timestamp[kRfc3339MicrosLength];
    const size_t timestampLength = formatRfc3339Micros(receiveMicros, timestamp);
    arena.append(split.pri.empty() ? kDefaultPri : split.pri);
    arena.append("1 ");
    arena.append(timestamp, timestampLength);
    arena.push_back(' ');
    arena.append(source);
    arena.push_back(' ');
    arena.append(split.rest);
  }
  result.bytes = arena.size() - offset;
  batch.events.push_back(record::EventRef{roundMicrosToMillis(eventMicros),
                                          static_cast<uint32_t>(offset),
                                          static_cast<uint32_t>(result.bytes)});
  return result;
}

}  // namespace kinesyslog::syslog
