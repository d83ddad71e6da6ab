#include "proto/gelf/gelf_timestamp.h"

#include <cstddef>

#include "proto/syslog/event_time.h"

namespace kinesyslog::gelf {
namespace {

constexpr bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// Exponents are clamped here: anything this far out is zero or out of range either way, and the
// clamp keeps the arithmetic below far from overflow.
constexpr int64_t kExponentClamp = 1'000'000;

// More digits before the microsecond point than the latest timestamp has is out of range
// (253402300799999999 us has 18; int64_t holds 19).
constexpr int64_t kMaxMicrosDigits = 18;

// The significant digits of a number: its integer digits followed by its fraction digits.
struct Digits {
  std::string_view integer;
  std::string_view fraction;
  size_t size() const { return integer.size() + fraction.size(); }
  int at(int64_t i) const {
    if (i < 0 || static_cast<size_t>(i) >= size()) return 0;  // implicit zeros on both sides
    const size_t u = static_cast<size_t>(i);
    const char c = u < integer.size() ? integer[u] : fraction[u - integer.size()];
    return c - '0';
  }
};

// Seconds as nearly every sender writes them (`1717243200.123456`: no sign, no exponent, at most
// 12 integer digits, so the microseconds fit): the general digit walk below gives the same value,
// one digit at a time through Digits::at(); this was a sixth of the cost of reading a GELF message
// (profile of a GELF/TCP run).
constexpr size_t kPlainIntegerDigits = 12;

std::optional<int64_t> plainSecondsToMillis(const Digits& digits) {
  int64_t micros = 0;
  for (const char c : digits.integer) micros = micros * 10 + (c - '0');
  int64_t fraction = 0;
  size_t k = 0;
  for (; k < 6 && k < digits.fraction.size(); ++k)
    fraction = fraction * 10 + (digits.fraction[k] - '0');
  for (; k < 6; ++k) fraction *= 10;
  const int64_t millis = syslog::roundMicrosToMillis(micros * 1'000'000 + fraction);
  if (millis > kMaxTimestampMillis) return std::nullopt;
  return millis;
}

}  // namespace

std::optional<int64_t> parseGelfTimestampMillis(std::string_view text) noexcept {
  // RFC 8259 §6: number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT ).
  size_t i = 0;
  const size_t n = text.size();
  bool negative = false;
  if (i < n && text[i] == '-') {
    negative = true;
    ++i;
  }
  const size_t intStart = i;
  if (i == n || !isDigit(text[i])) return std::nullopt;
  if (text[i] == '0') {
    ++i;
  } else {
    while (i < n && isDigit(text[i])) ++i;
  }
  Digits digits{text.substr(intStart, i - intStart), {}};
  if (i < n && text[i] == '.') {
    const size_t fracStart = ++i;
    while (i < n && isDigit(text[i])) ++i;
    if (i == fracStart) return std::nullopt;
    digits.fraction = text.substr(fracStart, i - fracStart);
  }
  int64_t exponent = 0;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negativeExponent = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) negativeExponent = text[i++] == '-';
    const size_t expStart = i;
    while (i < n && isDigit(text[i])) {
      if (exponent < kExponentClamp) exponent = exponent * 10 + (text[i] - '0');
      ++i;
    }
    if (i == expStart) return std::nullopt;
    if (negativeExponent) exponent = -exponent;
  }
  if (i != n) return std::nullopt;
  if (!negative && exponent == 0 && digits.integer.size() <= kPlainIntegerDigits) {
    return plainSecondsToMillis(digits);
  }

  // value = 0.d0 d1 d2 ... x 10^(integer digits + exponent). The microsecond point sits after
  // digit index `point` - 1. Cutting the digits after it cannot change the rounding to
  // milliseconds: half up depends only on the first digit dropped there, the fourth of the
  // fraction, which microseconds keep.
  const int64_t point = static_cast<int64_t>(digits.integer.size()) + exponent + 6;
  int64_t first = 0;
  const int64_t total = static_cast<int64_t>(digits.size());
  while (first < total && digits.at(first) == 0) ++first;
  if (first == total) return 0;  // zero, written any way (-0, 0.000, 0e7)
  if (negative) return std::nullopt;
  if (point - first > kMaxMicrosDigits) return std::nullopt;
  int64_t micros = 0;
  for (int64_t k = first; k < point; ++k) micros = micros * 10 + digits.at(k);
  const int64_t millis = syslog::roundMicrosToMillis(micros);
  if (millis > kMaxTimestampMillis) return std::nullopt;
  return millis;
}

}  // namespace kinesyslog::gelf
