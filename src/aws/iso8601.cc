#include "aws/iso8601.h"

#include <algorithm>

#include "util/calendar.h"

namespace kinesyslog::aws {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Reads exactly `count` decimal digits from the front of `text`.
bool readDigits(std::string_view& text, size_t count, int& out) {
  if (text.size() < count) return false;
  int value = 0;
  for (size_t i = 0; i < count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  out = value;
  text.remove_prefix(count);
  return true;
}

bool skip(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) return false;
  text.remove_prefix(1);
  return true;
}

}  // namespace

std::optional<int64_t> parseIso8601Micros(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);

  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!readDigits(text, 4, year) || !skip(text, '-') || !readDigits(text, 2, month) ||
      !skip(text, '-') || !readDigits(text, 2, day)) {
    return std::nullopt;
  }
  // RFC 3339 §5.6 allows a lowercase `t`, and a space "for the sake of readability".
  if (!(skip(text, 'T') || skip(text, 't') || skip(text, ' '))) return std::nullopt;
  if (!readDigits(text, 2, hour) || !skip(text, ':') || !readDigits(text, 2, minute) ||
      !skip(text, ':') || !readDigits(text, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > daysInMonth(year, static_cast<unsigned>(month)) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }

  int64_t fractionMicros = 0;
  if (skip(text, '.') || skip(text, ',')) {  // ISO 8601 allows a decimal comma
    size_t digits = 0;
    int64_t scale = 100'000;
    for (; !text.empty() && text.front() >= '0' && text.front() <= '9'; text.remove_prefix(1)) {
      fractionMicros += (text.front() - '0') * scale;  // digits past microseconds are dropped
      scale /= 10;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
  }

  int64_t offsetSeconds = 0;
  if (skip(text, 'Z') || skip(text, 'z')) {
    // UTC
  } else if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    const int sign = text.front() == '-' ? -1 : 1;
    text.remove_prefix(1);
    int offsetHours = 0;
    int offsetMinutes = 0;
    if (!readDigits(text, 2, offsetHours)) return std::nullopt;
    if (!text.empty()) {
      skip(text, ':');
      if (!readDigits(text, 2, offsetMinutes)) return std::nullopt;
    }
    if (offsetHours > 23 || offsetMinutes > 59) return std::nullopt;
    offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60);
  }
  if (!text.empty()) return std::nullopt;

  const int64_t days =
      daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t seconds =
      days * kSecondsPerDay + hour * 3600 + minute * 60 + std::min(second, 59) - offsetSeconds;
  return seconds * kMicrosPerSecond + fractionMicros;
}

}  // namespace kinesyslog::aws
