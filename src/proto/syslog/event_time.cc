#include "proto/syslog/event_time.h"

#include <algorithm>
#include <cstring>

namespace kinesyslog::syslog {

namespace {

// 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z: what a four-digit year can write.
constexpr int64_t kMinMicros = daysFromCivil(0, 1, 1) * kMicrosPerDay;
constexpr int64_t kMaxMicros = daysFromCivil(10000, 1, 1) * kMicrosPerDay - 1;
// A header time before 1970-01-01T00:00:00Z is not valid (docs/design.md "Events"): such a stamp is
// a sender without a set clock, and the receive time is the better guess.
constexpr int64_t kEarliestValidMicros = 0;

// RFC 3164 carries no year. A date at most this far after the receive time (in local time) is
// taken as a sender clock running a little ahead, not as last year's date.
constexpr int64_t kMaxFutureMicros = 2 * kMicrosPerDay;

// RFC 3164 §4.1.2: English abbreviations, exactly as written there.
constexpr std::string_view kMonthNames[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

constexpr bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

constexpr bool hasCharAt(std::string_view s, size_t pos, char c) {
  return pos < s.size() && s[pos] == c;
}

// A header field ends with a space (RFC 5424 §6 SP, RFC 3164 §4.1.2) or with the message.
constexpr bool isFieldEnd(std::string_view s, size_t pos) {
  return pos == s.size() || s[pos] == ' ';
}

// The value of exactly `count` decimal digits at s[pos], or -1 when s is too short or one of them
// is not a digit. Callers pass positions at most a few bytes past a checked one, so `pos + count`
// cannot wrap.
constexpr int readDigits(std::string_view s, size_t pos, size_t count) {
  if (pos + count > s.size()) return -1;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!isDigit(s[i])) return -1;
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

// The whole seconds of a time of day.
struct ClockTime {
  int64_t micros = 0;       // since midnight; a leap second counts as second 59
  bool leapSecond = false;  // second 60 (RFC 3339 §5.7)
};

// `hh:mm:ss` at s[pos] (RFC 3339 §5.6 partial-time without its fraction); on success advances pos
// past it.
std::optional<ClockTime> parseClock(std::string_view s, size_t& pos) {
  const int hour = readDigits(s, pos, 2);
  const int minute = readDigits(s, pos + 3, 2);
  const int second = readDigits(s, pos + 6, 2);
  if (hour < 0 || hour > 23 || !hasCharAt(s, pos + 2, ':') || minute < 0 || minute > 59 ||
      !hasCharAt(s, pos + 5, ':') || second < 0 || second > 60) {
    return std::nullopt;
  }
  pos += 8;
  const bool leap = second == 60;
  return ClockTime{(int64_t{hour} * 3600 + minute * 60 + (leap ? 59 : second)) * kMicrosPerSecond,
                   leap};
}

// `.fraction` at s[pos], rounded to microseconds as parseTimeOfDay() says: 0 when there is none,
// nullopt for a '.' without a digit. Advances pos past it. The result may be 1,000,000 (rounded
// up into the next second), which the caller's addition carries.
std::optional<int64_t> parseFraction(std::string_view s, size_t& pos) {
  // Powers of ten that scale the first 1 to 6 digits to microseconds; a division by ten per
  // digit was most of this function's cost (profile of a TCP run).
  static constexpr int64_t kScale[7] = {1'000'000, 100'000, 10'000, 1'000, 100, 10, 1};
  if (!hasCharAt(s, pos, '.')) return 0;
  const size_t first = ++pos;
  int64_t fraction = 0;
  while (pos < s.size() && pos - first < 6 && isDigit(s[pos])) {
    fraction = fraction * 10 + (s[pos] - '0');
    ++pos;
  }
  if (pos == first) return std::nullopt;  // a '.' needs at least one digit
  fraction *= kScale[pos - first];
  if (pos - first == 6 && pos < s.size() && isDigit(s[pos])) {
    // The seventh digit rounds half up, except across a half millisecond (see parseTimeOfDay).
    if (s[pos] >= '5' && fraction % 1000 != 499) ++fraction;
    while (pos < s.size() && isDigit(s[pos])) ++pos;
  }
  return fraction;
}

// `hh:mm:ss[.fraction]` at s[pos] (RFC 3339 §5.6 partial-time, also RFC 3164's time); on success
// advances pos past it and returns the microseconds since midnight.
//
// The fraction may have any number of digits (RFC 3339 allows 1*DIGIT, RFC 5424 §6.2.3 at most 6,
// some senders write nanoseconds). It is rounded to the nearest microsecond, half up, except that
// it never rounds up across a half millisecond: .2394996 becomes .239499, not .239500. The only
// consumer rounds again to milliseconds (docs/design.md "Events"), and this keeps that second
// rounding equal to rounding the exact value once (.2394996 -> 239 ms); every other value is the
// nearest microsecond.
//
// Second 60 (a leap second, RFC 3339 §5.7) is read as hh:mm:59.999999, whatever its fraction: the
// event stays in the minute (and day) the sender wrote and after every earlier event; rounded to
// milliseconds it lands on the next second, where the leap second ends.
std::optional<int64_t> parseTimeOfDay(std::string_view s, size_t& pos) {
  const std::optional<ClockTime> clock = parseClock(s, pos);
  if (!clock) return std::nullopt;
  std::optional<int64_t> fraction = parseFraction(s, pos);
  if (!fraction) return std::nullopt;
  if (clock->leapSecond) fraction = 999'999;  // hh:mm:59 (the clock's value) + 999,999 µs
  return clock->micros + *fraction;
}

// A header time is valid from 1970 (kEarliestValidMicros) to the end of year 9999 (what
// formatRfc3339Micros() can write).
std::optional<int64_t> validHeaderTime(int64_t utcMicros) {
  if (utcMicros < kEarliestValidMicros || utcMicros > kMaxMicros) return std::nullopt;
  return utcMicros;
}

// `YYYY-MM-DDThh:mm:ss` (RFC 3339 §5.6 full-date "T" partial-time without the fraction) at the
// start of s: its local time in microseconds, the leap second as second 59.
std::optional<ClockTime> parseLocalSecond(std::string_view s) {
  const int year = readDigits(s, 0, 4);
  const int month = readDigits(s, 5, 2);
  const int day = readDigits(s, 8, 2);
  if (year < 0 || !hasCharAt(s, 4, '-') || month < 1 || month > 12 || !hasCharAt(s, 7, '-') ||
      day < 1 || static_cast<unsigned>(day) > daysInMonth(year, static_cast<unsigned>(month)) ||
      !(hasCharAt(s, 10, 'T') || hasCharAt(s, 10, 't'))) {
    return std::nullopt;
  }
  size_t pos = 11;
  std::optional<ClockTime> clock = parseClock(s, pos);
  if (!clock) return std::nullopt;
  clock->micros +=
      daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * kMicrosPerDay;
  return clock;
}

// A sender stamps the messages of one second alike, and reading the date and clock was the
// costliest part of receiving a message after the copy (profile of a TCP run). So each thread
// keeps the last `YYYY-MM-DDThh:mm:ss` it read and its value: a stamp that starts with the same
// 19 bytes only has its fraction and offset read. A leap second is never kept. Invisible in the
// results: the same bytes always give the same value.
constexpr size_t kLocalSecondLength = 19;
struct LastLocalSecond {
  char text[kLocalSecondLength] = {};
  int64_t micros = 0;
  bool valid = false;
};
thread_local LastLocalSecond tLastLocalSecond;

// Three overlapping word compares: a call to memcmp cost more than the comparison.
bool sameLocalSecond(const char* a, const char* b) {
  uint64_t a0, a1, a2, b0, b1, b2;
  std::memcpy(&a0, a, 8);
  std::memcpy(&b0, b, 8);
  std::memcpy(&a1, a + 8, 8);
  std::memcpy(&b1, b + 8, 8);
  std::memcpy(&a2, a + kLocalSecondLength - 8, 8);
  std::memcpy(&b2, b + kLocalSecondLength - 8, 8);
  return ((a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2)) == 0;
}

std::optional<ClockTime> parseLocalSecondCached(std::string_view s) {
  LastLocalSecond& last = tLastLocalSecond;
  if (s.size() < kLocalSecondLength) return parseLocalSecond(s);
  if (last.valid && sameLocalSecond(last.text, s.data())) {
    return ClockTime{last.micros, false};
  }
  const std::optional<ClockTime> second = parseLocalSecond(s);
  if (second && !second->leapSecond) {
    std::memcpy(last.text, s.data(), kLocalSecondLength);
    last.micros = second->micros;
    last.valid = true;
  }
  return second;
}

// RFC 3339 §5.6 date-time, `YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)`, with lowercase t and z
// allowed (§5.6 NOTE) and the offset optional (then local time in `zone`).
std::optional<int64_t> parseRfc3339(std::string_view s, const LocalZone& zone) {
  const std::optional<ClockTime> second = parseLocalSecondCached(s);
  if (!second) return std::nullopt;
  size_t pos = kLocalSecondLength;
  std::optional<int64_t> fraction = parseFraction(s, pos);
  if (!fraction) return std::nullopt;
  if (second->leapSecond) fraction = 999'999;
  const int64_t local = second->micros + *fraction;

  int64_t utc = 0;
  if (hasCharAt(s, pos, 'Z') || hasCharAt(s, pos, 'z')) {
    utc = local;
    pos += 1;
  } else if (hasCharAt(s, pos, '+') || hasCharAt(s, pos, '-')) {
    // time-numoffset; `-00:00` (RFC 3339 §4.3, offset unknown) is read as UTC like `+00:00`.
    const int offsetHours = readDigits(s, pos + 1, 2);
    const int offsetMinutes = readDigits(s, pos + 4, 2);
    if (offsetHours < 0 || offsetHours > 23 || !hasCharAt(s, pos + 3, ':') || offsetMinutes < 0 ||
        offsetMinutes > 59) {
      return std::nullopt;
    }
    const int64_t offset = (int64_t{offsetHours} * 60 + offsetMinutes) * 60 * kMicrosPerSecond;
    utc = s[pos] == '+' ? local - offset : local + offset;
    pos += 6;
  } else {
    utc = zone.localToUtcMicros(local);
  }
  if (!isFieldEnd(s, pos)) return std::nullopt;
  return validHeaderTime(utc);
}

// RFC 3164 §4.1.2 TIMESTAMP `Mmm dd hh:mm:ss`: a day below 10 is written ` d` by the RFC; `0d`
// and a bare `d` are accepted too. A fraction after the seconds (some senders add one) is read.
std::optional<int64_t> parseRfc3164(std::string_view s, int64_t receiveMicros,
                                    const LocalZone& zone) {
  if (s.size() < 4 || s[3] != ' ') return std::nullopt;
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (s.substr(0, 3) == kMonthNames[i]) {
      month = i + 1;
      break;
    }
  }
  if (month == 0) return std::nullopt;

  int day = -1;
  size_t pos = 0;
  if (hasCharAt(s, 4, ' ')) {  // `Feb  3`
    day = readDigits(s, 5, 1);
    pos = 6;
  } else if (hasCharAt(s, 5, ' ')) {  // `Feb 3`
    day = readDigits(s, 4, 1);
    pos = 5;
  } else {  // `Feb 03`, `Feb 13`
    day = readDigits(s, 4, 2);
    pos = 6;
  }
  // Checked against the longest month first; Feb 29 waits for the year.
  if (day < 1 || static_cast<unsigned>(day) > daysInMonth(2000, month) || !hasCharAt(s, pos, ' ')) {
    return std::nullopt;
  }
  ++pos;
  const std::optional<int64_t> timeOfDay = parseTimeOfDay(s, pos);
  if (!timeOfDay || !isFieldEnd(s, pos)) return std::nullopt;

  // Year inference (docs/design.md "Events"), in local time: the latest of the year after the
  // receive year, the receive year and the year before in which the date exists (Feb 29) and is at
  // most two days after the receive time. So `Jan  1 00:00:30` received at 23:59 on Dec 31 (a
  // sender clock running ahead) is the new year, `Dec 31 23:59:59` received just after midnight the
  // old one, and a date weeks ahead last year.
  const int64_t receiveLocal =
      zone.utcToLocalMicros(std::clamp(receiveMicros, kMinMicros, kMaxMicros));
  const int64_t receiveYear = civilFromDays(floorDiv(receiveLocal, kMicrosPerDay)).year;
  for (int64_t year = receiveYear + 1; year >= receiveYear - 1; --year) {
    if (static_cast<unsigned>(day) > daysInMonth(year, month)) continue;
    const int64_t local =
        daysFromCivil(year, month, static_cast<unsigned>(day)) * kMicrosPerDay + *timeOfDay;
    if (local - receiveLocal <= kMaxFutureMicros) {
      return validHeaderTime(zone.localToUtcMicros(local));
    }
  }
  return std::nullopt;  // Feb 29 with no leap year among the three
}

// Writes `value` as exactly `count` decimal digits, zero-padded. Precondition: it fits.
void writeDigits(char* out, int64_t value, size_t count) {
  for (size_t i = count; i > 0; --i) {
    out[i - 1] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

PriSplit splitPri(std::string_view message) noexcept {
  if (message.empty() || message[0] != '<') return PriSplit{{}, message};
  size_t end = 1;
  int value = 0;
  while (end < message.size() && end <= 3 && isDigit(message[end])) {
    value = value * 10 + (message[end] - '0');
    ++end;
  }
  if (end == 1 || !hasCharAt(message, end, '>') || value > 191) return PriSplit{{}, message};
  return PriSplit{message.substr(0, end + 1), message.substr(end + 1)};
}

std::optional<int64_t> parseEventTimeMicros(std::string_view message, int64_t receiveMicros,
                                            const LocalZone& zone) noexcept {
  const std::string_view rest = splitPri(message).rest;
  if (rest.empty()) return std::nullopt;
  // RFC 5424 §6.2.2 VERSION 1 and a space. The NILVALUE `-` (no time known, §6.2.3) then fails
  // RFC 3339 parsing: hasNilTimestamp() tells that case apart.
  if (rest[0] == '1' && hasCharAt(rest, 1, ' ')) return parseRfc3339(rest.substr(2), zone);
  if (isDigit(rest[0])) return parseRfc3339(rest, zone);
  return parseRfc3164(rest, receiveMicros, zone);
}

bool hasNilTimestamp(std::string_view message) noexcept {
  const PriSplit split = splitPri(message);
  return !split.pri.empty() && split.rest.substr(0, 3) == "1 -" && isFieldEnd(split.rest, 3);
}

int64_t roundMicrosToMillis(int64_t micros) noexcept {
  // Floor division by hand: multiplying the quotient back could overflow near INT64_MIN.
  int64_t millis = micros / 1000;
  int64_t remainder = micros % 1000;
  if (remainder < 0) {
    remainder += 1000;
    millis -= 1;
  }
  return remainder >= 500 ? millis + 1 : millis;
}

size_t formatRfc3339Micros(int64_t utcMicros, char* out) noexcept {
  const int64_t micros = std::clamp(utcMicros, kMinMicros, kMaxMicros);
  const int64_t days = floorDiv(micros, kMicrosPerDay);
  const int64_t microsOfDay = micros - days * kMicrosPerDay;
  const int64_t secondOfDay = microsOfDay / kMicrosPerSecond;
  const CivilDate date = civilFromDays(days);
  writeDigits(out, date.year, 4);
  out[4] = '-';
  writeDigits(out + 5, date.month, 2);
  out[7] = '-';
  writeDigits(out + 8, date.day, 2);
  out[10] = 'T';
  writeDigits(out + 11, secondOfDay / 3600, 2);
  out[13] = ':';
  writeDigits(out + 14, secondOfDay / 60 % 60, 2);
  out[16] = ':';
  writeDigits(out + 17, secondOfDay % 60, 2);
  out[19] = '.';
  writeDigits(out + 20, microsOfDay % kMicrosPerSecond, 6);
  std::memcpy(out + 26, "+00:00", 6);
  return kRfc3339MicrosLength;
}

}  // namespace kinesyslog::syslog
