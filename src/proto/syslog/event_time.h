#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proto/syslog/local_zone.h"

// Syslog headers are read only as far as the event time (docs/design.md "Events"): the PRI is split
// off and the timestamp after it decoded at fixed positions. Everything here is pure,
// allocation-free and non-throwing; it runs once per received message.
namespace kinesyslog::syslog {

struct PriSplit {
  std::string_view
      pri;  // "<13>" including the brackets, or empty when the message has no valid PRI
  std::string_view rest;  // everything after the PRI (the whole message when there is no PRI)
};

// RFC 5424 §6.2.1: `<` PRIVAL `>`, PRIVAL 1 to 3 digits with a value of 0..191. Leading zeros
// (`<013>`), which the RFC forbids, are accepted: the value is unambiguous and the PRI is relayed
// as sent.
[[nodiscard]] PriSplit splitPri(std::string_view message) noexcept;

// Event time in microseconds since the epoch from the header, or nullopt when the message has no
// usable timestamp. receiveMicros is the receive time (UTC micros) used for RFC 3164 year
// inference. After an optional PRI, the accepted headers are:
//  - RFC 5424 `1 TIMESTAMP` (§6.2.3), TIMESTAMP being RFC 3339 (§5.6) or the NILVALUE `-`;
//  - an RFC 3339 timestamp right after the PRI without the version (rsyslog's forward formats);
//  - RFC 3164 `Mmm dd hh:mm:ss` (§4.1.2), the day also as ` d` or `d`, optionally with a fraction.
// The timestamp must be followed by a space or the end of the message. A timestamp without
// offset is local time in `zone`. A time before 1970-01-01T00:00:00Z is not valid; the result
// always lies in 1970..9999 UTC, so formatRfc3339Micros() can write it. RFC 3164 carries no
// year: it is the latest of the receive year + 1, the receive year and the receive year - 1 in
// which the date exists and is at most 2 days after the receive time, in `zone`.
[[nodiscard]] std::optional<int64_t> parseEventTimeMicros(std::string_view message,
                                                          int64_t receiveMicros,
                                                          const LocalZone& zone) noexcept;

// True for an RFC 5424 header whose TIMESTAMP is the NILVALUE (`<PRI>1 -` then a space or the
// end, §6.2.3): a valid header that states no time. Such a message keeps its text and takes the
// receive time (docs/design.md "Events").
[[nodiscard]] bool hasNilTimestamp(std::string_view message) noexcept;

// Rounds microseconds to milliseconds, half up (docs/design.md "Events": `.239881` -> 240, `.2395`
// -> 240).
[[nodiscard]] int64_t roundMicrosToMillis(int64_t micros) noexcept;

// Writes `YYYY-MM-DDThh:mm:ss.uuuuuu+00:00` (exactly 32 chars) for a UTC time; returns chars
// written. Times outside years 0000..9999 are clamped to the nearest end of that range.
size_t formatRfc3339Micros(int64_t utcMicros, char* out /* at least 32 bytes */) noexcept;
inline constexpr size_t kRfc3339MicrosLength = 32;

}  // namespace kinesyslog::syslog
