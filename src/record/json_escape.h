#pragma once

#include <string>
#include <string_view>

namespace kinesyslog::record {

// Appends `bytes` to `out` as the content of a JSON string (RFC 8259 §7), without the
// surrounding quotes, so that every record is valid JSON whatever the sender sent:
// - `"` and `\` are escaped; control characters 0x00-0x1F become \b \f \n \r \t or \u00xx;
//   0x7F (allowed unescaped by RFC 8259 §7) is kept as is.
// - Well-formed UTF-8 (RFC 3629 §4: no overlongs, no surrogates, nothing above U+10FFFF) is
//   copied unchanged.
// - Every byte that is not part of a well-formed sequence becomes the four characters `\xnn`
//   (lowercase hex), exactly what Python's bytes.decode('utf-8', 'backslashreplace') gives the
//   seed; in JSON that text is written `\\xnn`.
// Never fails; `bytes` may hold anything.
void appendJsonEscaped(std::string& out, std::string_view bytes);

}  // namespace kinesyslog::record
