// Fuzz target for the GELF event builder (src/proto/gelf/gelf_event.h): a JSON object in, an
// event with the message bytes and a time out, plus findings (valid JSON, missing fields,
// unusable timestamp). Byte 0 chooses the mode:
//  - even: the rest is raw text, checked against simdjson's DOM parser as an oracle: the
//    On-Demand checker calls it valid JSON exactly when the DOM parser accepts it (documents
//    nested near the checker's depth limit aside), a GELF field counts as present exactly when
//    the DOM sees it as a string member, and the first `timestamp` member decides the time;
//  - odd: a GELF object is built from the rest (the required fields present or not, as strings
//    or other types, their keys written with escapes or not, a timestamp as number or string,
//    extra fields, whitespace) and the findings must be what was built.
// In both modes the event holds the message bytes exactly and takes the GELF time when the
// timestamp is usable, else the receive time.
#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "proto/gelf/gelf_event.h"
#include "proto/gelf/gelf_timestamp.h"
#include "proto/syslog/event_time.h"
#include "record/source_batch.h"

namespace {

using kinesyslog::gelf::GelfFindings;
using kinesyslog::gelf::GelfParser;
using kinesyslog::gelf::parseGelfTimestampMillis;

constexpr int64_t kReceiveMicros = 1'781'524'800'123'456;  // 2026-06-15T12:00:00.123456Z
constexpr size_t kMaxMessageSize = 65536;

using Input = kinesyslog::fuzz::FuzzInput;

GelfParser& parser() {
  static GelfParser p(kMaxMessageSize);
  return p;
}

// Builds the event and checks what every message must satisfy; returns the findings.
GelfFindings buildEvent(std::string_view message) {
  kinesyslog::record::SourceBatch batch;
  batch.addEvent(1, "earlier");
  const auto result =
      kinesyslog::gelf::appendGelfEvent(batch, message, kReceiveMicros, parser(), kMaxMessageSize);
  if (message.empty() || message.size() > kMaxMessageSize) return result.findings;
  if (result.bytes != message.size() || batch.events.size() != 2 ||
      batch.message(batch.events[1]) != message ||
      std::string_view(batch.arena).substr(0, 7) != "earlier") {
    __builtin_trap();
  }
  const int64_t expected =
      result.findings.timestampMs.value_or(kinesyslog::syslog::roundMicrosToMillis(kReceiveMicros));
  if (batch.events[1].timestampMs != expected) __builtin_trap();
  if (result.findings.timestampMs && !result.findings.validJson) __builtin_trap();
  return result.findings;
}

size_t depthOf(simdjson::dom::element e) {
  size_t deepest = 0;
  simdjson::dom::array array;
  simdjson::dom::object object;
  if (e.get_array().get(array) == simdjson::SUCCESS) {
    for (simdjson::dom::element child : array) deepest = std::max(deepest, 1 + depthOf(child));
  } else if (e.get_object().get(object) == simdjson::SUCCESS) {
    for (simdjson::dom::key_value_pair kv : object) {
      deepest = std::max(deepest, 1 + depthOf(kv.value));
    }
  }
  return deepest;
}

// True when an `e`/`E` in the text is followed by an optional sign and 20 or more digits (a scan
// of the raw text: inside a string it may over-match, which only skips an input).
bool hasExponentOfTwentyDigits(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != 'e' && text[i] != 'E') continue;
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    size_t digits = 0;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j, ++digits;
    if (digits >= 20) return true;
  }
  return false;
}

void checkRaw(std::string_view text) {
  // Trailing CR/LF/NUL are not part of the message (the event builder strips them).
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == '\0')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return;
  const GelfFindings findings = buildEvent(text);

  static simdjson::dom::parser dom;
  simdjson::dom::element root;
  const simdjson::padded_string padded(text);
  const simdjson::error_code error = dom.parse(padded).get(root);
  if (error) {
    // The DOM parser refuses integers past 64 bits (NUMBER_ERROR) that On-Demand reads as doubles.
    if (findings.validJson && error != simdjson::NUMBER_ERROR) __builtin_trap();
    return;
  }
  const size_t depth = depthOf(root);
  if (depth + 2 >= GelfParser::kMaxDepth) return;
  // RFC 8259 §6 lets a reader limit the numbers it takes: On-Demand refuses an exponent of 20 or
  // more digits, which the DOM parser takes when the digits before it are zeros (0e<20 digits>
  // is 0 to it). The relay counts such a message as not valid JSON.
  if (!findings.validJson && hasExponentOfTwentyDigits(text)) return;
  if (!findings.validJson) __builtin_trap();

  bool version = false, host = false, shortMessage = false;
  std::optional<int64_t> timestamp;
  bool timestampSeen = false;
  simdjson::dom::object object;
  if (root.get_object().get(object) == simdjson::SUCCESS) {
    for (simdjson::dom::key_value_pair kv : object) {
      if (kv.key == "timestamp" && !timestampSeen) {
        timestampSeen = true;
        if (kv.value.is_string()) {
          timestamp = parseGelfTimestampMillis(kv.value.get_string().value_unsafe());
        } else if (kv.value.is_number()) {
          // The reader works on the number as written; the DOM gives a double: they agree to a
          // millisecond (a double's 17 digits are not all of the text).
          const double seconds = kv.value.get_double().value_unsafe();
          if (findings.timestampMs) {
            const double diff = static_cast<double>(*findings.timestampMs) - seconds * 1000;
            if (diff > 1.0 + seconds * 1e-12 || diff < -1.0 - seconds * 1e-12) __builtin_trap();
          }
          timestamp = findings.timestampMs;  // compared above
        }
        continue;
      }
      if (!kv.value.is_string()) continue;
      version |= kv.key == "version";
      host |= kv.key == "host";
      shortMessage |= kv.key == "short_message";
    }
  }
  if (findings.missingFields != !(version && host && shortMessage)) __builtin_trap();
  if (findings.timestampMs != timestamp) __builtin_trap();
  if (findings.invalidTimestamp != (timestampSeen && !timestamp)) __builtin_trap();
}

// A key as JSON text: as is, or with its letters escaped as \u00XX (same key once unescaped).
std::string key(std::string_view name, bool escaped) {
  std::string out = "\"";
  for (char c : name) {
    if (escaped && c >= 'a' && c <= 'z') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 15];
      out += kHex[c & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void checkBuilt(Input& in) {
  static constexpr std::string_view kNames[] = {"version", "host",   "short_message", "timestamp",
                                                "level",   "_extra", "full_message",  "Host"};
  static constexpr std::string_view kValues[] = {"\"1.1\"",
                                                 "\"example.org\"",
                                                 "\"A \\\"short\\\" message \\u00e9\"",
                                                 "1",
                                                 "-2.5e3",
                                                 "true",
                                                 "null",
                                                 "[1,\"two\",{\"three\":3}]",
                                                 "{\"a\":{}}",
                                                 "\"\""};
  std::string json = "{";
  bool version = false, host = false, shortMessage = false, timestampSeen = false;
  std::optional<int64_t> timestamp;
  const unsigned fields = in.byte() % 12;
  for (unsigned f = 0; f < fields; ++f) {
    const unsigned spec = in.byte();
    const std::string_view name = kNames[spec % 8];
    if (f > 0) json += ',';
    if (spec & 0x80) json += " \n";
    json += key(name, (spec & 0x40) != 0);
    json += (spec & 0x20) ? " : " : ":";
    if (name == "timestamp") {
      // Seconds with up to 6 fraction digits, as a number or as a string holding one.
      std::string number = std::to_string(in.byte() | in.byte() << 8 | in.byte() << 16);
      const unsigned fraction = in.byte() % 7;
      if (fraction > 0) {
        number += '.';
        for (unsigned i = 0; i < fraction; ++i) number += static_cast<char>('0' + in.byte() % 10);
      }
      json += (spec & 8) ? '"' + number + '"' : number;
      if (!timestampSeen) timestamp = parseGelfTimestampMillis(number);
      timestampSeen = true;
      if (!timestamp) __builtin_trap();  // well-formed and in range by construction
    } else {
      const std::string_view value = kValues[in.byte() % 10];
      json += value;
      if (value.front() == '"') {
        version |= name == "version";
        host |= name == "host";
        shortMessage |= name == "short_message";
      }
    }
  }
  json += '}';
  const GelfFindings findings = buildEvent(json);
  if (!findings.validJson || findings.missingFields != !(version && host && shortMessage) ||
      findings.timestampMs != timestamp || findings.invalidTimestamp) {
    __builtin_trap();
  }
  // One more value after the object is not one JSON text.
  if (buildEvent(json + " {}").validJson) __builtin_trap();
  // Cut short, it is not valid JSON either.
  if (buildEvent(std::string_view(json).substr(0, json.size() - 1)).validJson) __builtin_trap();
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
