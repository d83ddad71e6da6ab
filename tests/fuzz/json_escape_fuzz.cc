// Fuzz target for record::appendJsonEscaped: whatever the bytes, the escaped text wrapped in
// quotes must be a JSON string that simdjson accepts (which checks UTF-8 too) and that decodes
// to Python's bytes.decode('utf-8', 'backslashreplace') of the input; for valid UTF-8 input
// that is the input itself, byte for byte.
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "record/backslash_replace_oracle.h"
#include "record/json_escape.h"

namespace {

using kinesyslog::record::oracle::backslashReplace;

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
  // Valid UTF-8 comes back byte for byte: the escaper loses nothing a JSON string can hold.
  if (simdjson::validate_utf8(in.data(), in.size()) && value != in) std::abort();

  // Appending must not disturb what the buffer already held.
  std::string prefixed = "kept";
  kinesyslog::record::appendJsonEscaped(prefixed, in);
  if (std::string_view(prefixed).substr(0, 4) != "kept" ||
      std::string_view(prefixed).substr(4) != std::string_view(json).substr(1, json.size() - 2)) {
    std::abort();
  }
  return 0;
}
