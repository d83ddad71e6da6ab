#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kinesyslog::aws {

// An ISO 8601 / RFC 3339 §5.6 date-time as AWS sends times (STS <Expiration>, the Expiration of
// container, IMDS and credential_process documents, AWS_CREDENTIAL_EXPIRATION), as microseconds
// since the Unix epoch. nullopt when malformed or not a calendar date; never throws.
//
// Accepted: `YYYY-MM-DD` then `T`, `t` or a space, `hh:mm:ss`; an optional fraction after `.` or
// `,` (digits past microseconds are dropped); then `Z`, `z`, `±hh:mm`, `±hhmm`, `±hh` or
// nothing, which means UTC (botocore reads zone-less times as UTC). Whitespace around the text
// is ignored. A leap second (`:60`, RFC 3339 §5.7) counts as `:59`, as POSIX time has no place
// for it.
[[nodiscard]] std::optional<int64_t> parseIso8601Micros(std::string_view text);

}  // namespace kinesyslog::aws
