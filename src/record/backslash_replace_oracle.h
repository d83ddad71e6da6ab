#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace kinesyslog::record::oracle {

// Test oracle, shared by the escaper's and encoder's tests and the fuzz target; not used by the
// relay itself. // What a message decodes to in the JSON: Python's decode('utf-8',
// 'backslashreplace'), computed independently of the escaper (code points decoded arithmetically,
// RFC 3629 limits).
inline std::string backslashReplace(std::string_view in) {
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    size_t length = c < 0x80             ? 1
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

}  // namespace kinesyslog::record::oracle
