// Fuzz target for the GELF `timestamp` reader (src/proto/gelf/gelf_timestamp.h). Byte 0 chooses
// the mode:
//  - even: the rest is raw text. It must never crash, and an accepted value lies in
//    0..kMaxTimestampMillis;
//  - odd: a JSON number is built from the rest (integer digits without a leading zero, fraction
//    digits, an exponent written `e`/`E` with or without a sign) and its value in milliseconds
//    is computed here on the decimal digits, rounding half up (docs/design.md "Events"): the
//    reader must agree exactly, and must give the same for the same value written differently
//    (trailing fraction zeros, the exponent moved into the digits) and refuse it negative.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/gelf/gelf_timestamp.h"

namespace {

using kinesyslog::gelf::kMaxTimestampMillis;
using kinesyslog::gelf::parseGelfTimestampMillis;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  unsigned byte() { return p_ == end_ ? 0 : *p_++; }
  char digit() { return static_cast<char>('0' + byte() % 10); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// The value of digits x 10^(scale) in milliseconds, half up; nullopt past the maximum. `digits`
// holds the significant digits; the millisecond point sits after digits.size() + scale of them.
std::optional<int64_t> expectedMillis(const std::string& digits, int64_t scale) {
  const int64_t point = static_cast<int64_t>(digits.size()) + scale;
  __int128 millis = 0;
  for (int64_t k = 0; k < point; ++k) {
    const int d =
        k < static_cast<int64_t>(digits.size()) ? digits[static_cast<size_t>(k)] - '0' : 0;
    millis = millis * 10 + d;
    if (millis > kMaxTimestampMillis) return std::nullopt;  // only grows from here
  }
  const bool roundUp = point >= 0 && point < static_cast<int64_t>(digits.size()) &&
                       digits[static_cast<size_t>(point)] >= '5';
  if (roundUp) ++millis;
  if (millis > kMaxTimestampMillis) return std::nullopt;
  return static_cast<int64_t>(millis);
}

void checkBuilt(Input& in) {
  const unsigned shape = in.byte();
  std::string integer(1, static_cast<char>('1' + in.byte() % 9));
  const unsigned integerDigits = in.byte() % 16;  // 0: the integer part is "0"
  if (integerDigits == 0) integer = "0";
  for (unsigned i = 1; i < integerDigits; ++i) integer += in.digit();
  std::string fraction;
  const unsigned fractionDigits = in.byte() % 24;
  for (unsigned i = 0; i < fractionDigits; ++i) fraction += in.digit();
  const int exponent = static_cast<int>(in.byte() % 41) - 20;
  const bool hasExponent = (shape & 1) != 0 || exponent != 0;

  std::string text = integer;
  if (!fraction.empty()) text += '.' + fraction;
  if (hasExponent) {
    text += (shape & 2) ? 'E' : 'e';
    if (exponent < 0) {
      text += '-';
    } else if (shape & 4) {
      text += '+';
    }
    text += std::to_string(exponent < 0 ? -exponent : exponent);
  }

  // value = digits x 10^(exponent - fraction digits), so in milliseconds the scale is 3 more.
  const std::string digits = (integer == "0" ? std::string() : integer) + fraction;
  const std::optional<int64_t> expected =
      expectedMillis(digits, exponent + 3 - static_cast<int64_t>(fraction.size()));
  const std::optional<int64_t> got = parseGelfTimestampMillis(text);
  if (got != expected) __builtin_trap();

  // The same value written another way.
  if (!fraction.empty() &&
      parseGelfTimestampMillis(integer + '.' + fraction + "000" +
                               text.substr(integer.size() + 1 + fraction.size())) != expected) {
    __builtin_trap();
  }
  if (!digits.empty() && digits.find_first_not_of('0') != std::string::npos) {
    // Negative values are refused; a negative zero is not negative.
    if (parseGelfTimestampMillis('-' + text)) __builtin_trap();
  } else if (parseGelfTimestampMillis('-' + text) != 0) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  if ((data[0] & 1) == 0) {
    const std::optional<int64_t> millis = parseGelfTimestampMillis(
        std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    if (millis && (*millis < 0 || *millis > kMaxTimestampMillis)) __builtin_trap();
    return 0;
  }
  Input in(data + 1, size - 1);
  checkBuilt(in);
  return 0;
}
