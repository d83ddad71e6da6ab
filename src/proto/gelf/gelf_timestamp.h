#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kinesyslog::gelf {

// The latest event time a GELF `timestamp` may give: 9999-12-31T23:59:59.999Z, the same range
// the syslog side can write (years 0000..9999 as RFC 3339 allows).
inline constexpr int64_t kMaxTimestampMillis = 253402300799999;

// GELF 1.1 payload specification: `timestamp` is "seconds since UNIX epoch with optional decimal
// places for milliseconds". `text` is the JSON number as written (RFC 8259 §6 grammar:
// `-? int frac? exp?`), or the content of a JSON string holding one (some clients send
// "1385053862.3072"). The result is milliseconds, rounded half up on the decimal digits as sent
// (docs/design.md "Events": `.239881` -> 240, `.0005` -> 1), computed exactly: no binary floating
// point, so a tie written in decimal is a tie. nullopt when `text` is not a number of that grammar,
// is negative (a negative zero is zero), or lies after kMaxTimestampMillis. Pure, non-throwing,
// never reads outside `text`.
[[nodiscard]] std::optional<int64_t> parseGelfTimestampMillis(std::string_view text) noexcept;

}  // namespace kinesyslog::gelf
