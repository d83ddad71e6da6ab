// Fuzz target for the AWS time parser (src/aws/iso8601.h), which reads STS <Expiration>, the
// Expiration of container, IMDS and credential_process documents and AWS_CREDENTIAL_EXPIRATION.
// Byte 0 chooses the mode:
//  - even: the rest is raw text. It must never crash; an accepted text must give the same time
//    with whitespace around it, and a time in years 0000..9999 must survive being written by
//    the syslog side's RFC 3339 formatter and parsed back;
//  - odd: a date-time is built from the rest (year, month, day, time, fraction, offset, and the
//    separators each syntax allows), written out, and must parse to the time computed here;
//    the same text with the month or the hour out of range must be refused.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aws/iso8601.h"
#include "proto/syslog/event_time.h"
#include "proto/syslog/local_zone.h"

namespace {

using kinesyslog::aws::parseIso8601Micros;
using kinesyslog::syslog::daysFromCivil;
using kinesyslog::syslog::kMicrosPerSecond;
using kinesyslog::syslog::kSecondsPerDay;

constexpr int64_t kFirstWritable = daysFromCivil(0, 1, 1) * kSecondsPerDay * kMicrosPerSecond;
constexpr int64_t kLastWritable =
    (daysFromCivil(10000, 1, 1) * kSecondsPerDay) * kMicrosPerSecond - 1;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  unsigned byte() { return p_ == end_ ? 0 : *p_++; }
  unsigned below(unsigned n) { return (byte() | byte() << 8) % n; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

void checkRaw(std::string_view text) {
  const std::optional<int64_t> micros = parseIso8601Micros(text);
  if (!micros) return;
  if (parseIso8601Micros(" \t" + std::string(text) + "\r\n") != micros) __builtin_trap();
  if (*micros < kFirstWritable || *micros > kLastWritable) return;
  char written[kinesyslog::syslog::kRfc3339MicrosLength];
  const size_t n = kinesyslog::syslog::formatRfc3339Micros(*micros, written);
  if (parseIso8601Micros(std::string_view(written, n)) != micros) __builtin_trap();
}

void checkBuilt(Input& in) {
  const int year = static_cast<int>(in.below(10000));
  const unsigned month = 1 + in.below(12);
  const unsigned day = 1 + in.below(kinesyslog::syslog::daysInMonth(year, month));
  const int hour = static_cast<int>(in.below(24));
  const int minute = static_cast<int>(in.below(60));
  const int second = static_cast<int>(in.below(61));  // 60: a leap second, read as 59
  const unsigned fractionDigits = in.below(13);       // 0: no fraction
  std::string fraction;
  for (unsigned i = 0; i < fractionDigits; ++i) fraction += static_cast<char>('0' + in.below(10));
  const unsigned style = in.byte();
  const int offsetHours = static_cast<int>(in.below(24));
  const int offsetMinutes = static_cast<int>(in.below(60));
  const bool negative = (style & 0x40) != 0;

  constexpr char kDateTimeSeparators[] = {'T', 't', ' '};
  std::string text = fmt::format("{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}", year, month, day,
                                 kDateTimeSeparators[(style & 3) % 3], hour, minute, second);
  if (!fraction.empty()) text += ((style & 4) ? ',' : '.') + fraction;
  int64_t offsetSeconds = 0;
  switch ((style >> 3) & 7) {
    case 0:
      break;  // no zone: UTC
    case 1:
      text += 'Z';
      break;
    case 2:
      text += 'z';
      break;
    case 3:
      text += fmt::format("{}{:02}:{:02}", negative ? '-' : '+', offsetHours, offsetMinutes);
      offsetSeconds = offsetHours * 3600 + offsetMinutes * 60;
      break;
    case 4:
      text += fmt::format("{}{:02}{:02}", negative ? '-' : '+', offsetHours, offsetMinutes);
      offsetSeconds = offsetHours * 3600 + offsetMinutes * 60;
      break;
    default:
      text += fmt::format("{}{:02}", negative ? '-' : '+', offsetHours);
      offsetSeconds = offsetHours * 3600;
      break;
  }
  if (negative) offsetSeconds = -offsetSeconds;
  if ((style & 0x80) != 0) text = "\n " + text + " \t";

  int64_t fractionMicros = 0;
  for (size_t i = 0; i < 6; ++i) {
    fractionMicros = fractionMicros * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  }
  const int64_t expected = (daysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 +
                            minute * 60 + (second == 60 ? 59 : second) - offsetSeconds) *
                               kMicrosPerSecond +
                           fractionMicros;
  if (parseIso8601Micros(text) != expected) __builtin_trap();

  // Out of range fields are refused, not wrapped.
  std::string badMonth = text;
  const size_t monthAt = badMonth.find('-') + 1;
  badMonth.replace(monthAt, 2, month % 2 ? "13" : "00");
  if (parseIso8601Micros(badMonth)) __builtin_trap();
  std::string badHour = text;
  badHour.replace(badHour.find(':') - 2, 2, "24");
  if (parseIso8601Micros(badHour)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  if ((data[0] & 1) == 0) {
    checkRaw(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  } else {
    Input in(data + 1, size - 1);
    checkBuilt(in);
  }
  return 0;
}
