// Fuzz target for record::appendJsonEscaped: whatever the bytes, the escaped text wrapped in
// quotes must be a JSON string that simdjson accepts (which checks UTF-8 too) and that decodes
// to Python's bytes.decode('utf-8', 'backslashreplace') of the input.
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "record/json_escape.h"

namespace {

// Reference decoder, independent of the escaper's table: code points decoded arithmetically
// and checked against RFC 3629 (no overlongs, no surrogates, nothing above U+10FFFF).
std::string backslashReplace(std::string_view in) {
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    const size_t length = c < 0x80             ? 1
                          : (c & 0xE0) == 0xC0 ? 2
                          : (c & 0xF0) == 0xE0 ? 3
                          : (c & 0xF8) == 0xF0 ? 4
                                               : 0;
    uint32_t cp = length == 1 ? c : length == 2 ? c & 0x1F : length == 3 ? c & 0x0F : c & 0x07;
    const uint32_t minimum = length == 2 ? 0x80 : length == 3 ? 0x800 : length == 4 ? 0x10000 : 0;
    bool valid = length != 0 && i + length <= in.size();
    for (size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(in[i + k]);
      valid = (next & 0xC0) == 0x80;
      cp = (cp << 6) | (next & 0x3F);
    }
    valid = valid && cp >= minimum && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (valid) {
      out.append(in.substr(i, length));
      i += length;
    } else {
      char text[5];
      std::snprintf(text, sizeof(text), "\\x%02x", c);
      out.append(text, 4);
      ++i;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string json = "\"";
  kinesyslog::record::appendJsonEscaped(json, in);
  json += '"';

  static simdjson::dom::parser parser;
  const simdjson::padded_string padded(json);
  std::string_view value;
  if (parser.parse(padded).get_string().get(value) != simdjson::SUCCESS) std::abort();
  if (value != backslashReplace(in)) std::abort();

  // Appending must not disturb what the buffer already held.
  std::string prefixed = "kept";
  kinesyslog::record::appendJsonEscaped(prefixed, in);
  if (std::string_view(prefixed).substr(0, 4) != "kept" ||
      std::string_view(prefixed).substr(4) != std::string_view(json).substr(1, json.size() - 2)) {
    std::abort();
  }
  return 0;
}
