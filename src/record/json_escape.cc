#include "record/json_escape.h"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace kinesyslog::record {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// True for bytes copied without escaping when seen outside a multi-byte sequence.
constexpr bool isPlainAscii(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

// Returns a pointer to the first byte in [p, end) that is not plain ASCII, or end. This is
// the hot loop: syslog text is almost all plain ASCII.
const unsigned char* skipPlain(const unsigned char* p, const unsigned char* end) {
#if defined(__SSE2__)
  const __m128i kSpace = _mm_set1_epi8(0x20);
  const __m128i kQuote = _mm_set1_epi8('"');
  const __m128i kBackslash = _mm_set1_epi8('\\');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // A signed compare against 0x20 catches both control characters (0x00-0x1F) and bytes
    // 0x80-0xFF, which are negative as int8.
    const __m128i special =
        _mm_or_si128(_mm_cmplt_epi8(v, kSpace),
                     _mm_or_si128(_mm_cmpeq_epi8(v, kQuote), _mm_cmpeq_epi8(v, kBackslash)));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  // SWAR, eight bytes at a time. Each test may flag bytes above the first true hit (borrows
  // run upwards), never below it, so the lowest flagged byte is exact.
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  while (end - p >= 8) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    const uint64_t quote = x ^ (kOnes * '"');
    const uint64_t backslash = x ^ (kOnes * '\\');
    const uint64_t special = ((x - kOnes * 0x20) & ~x) | x | ((quote - kOnes) & ~quote) |
                             ((backslash - kOnes) & ~backslash);
    const uint64_t hits = special & kHigh;
    if (hits != 0) return p + (__builtin_ctzll(hits) >> 3);
    p += 8;
  }
#endif
  while (p < end && isPlainAscii(*p)) ++p;
  return p;
}

constexpr bool isContinuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// Length of the well-formed UTF-8 sequence starting at p (whose first byte is >= 0x80), or 0
// when that first byte cannot start one. Follows the table of RFC 3629 §4: C0, C1 and F5-FF
// never appear; E0 needs A0-BF next (no overlongs), ED needs 80-9F (no surrogates), F0 needs
// 90-BF (no overlongs), F4 needs 80-8F (nothing above U+10FFFF).
size_t wellFormedLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  const size_t avail = static_cast<size_t>(end - p);
  if (c < 0xC2) return 0;  // stray continuation byte, or C0/C1 (overlong 2-byte lead)
  if (c < 0xE0) return avail >= 2 && isContinuation(p[1]) ? 2 : 0;
  if (c < 0xF0) {
    if (avail < 3) return 0;
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return p[1] >= lo && p[1] <= hi && isContinuation(p[2]) ? 3 : 0;
  }
  if (c < 0xF5) {
    if (avail < 4) return 0;
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return p[1] >= lo && p[1] <= hi && isContinuation(p[2]) && isContinuation(p[3]) ? 4 : 0;
  }
  return 0;
}

void appendControlEscape(std::string& out, unsigned char c) {
  switch (c) {
    case '\b':
      out.append("\\b", 2);
      return;
    case '\f':
      out.append("\\f", 2);
      return;
    case '\n':
      out.append("\\n", 2);
      return;
    case '\r':
      out.append("\\r", 2);
      return;
    case '\t':
      out.append("\\t", 2);
      return;
    default: {
      const char escape[6] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0x0f]};
      out.append(escape, sizeof(escape));
      return;
    }
  }
}

// The text `\xnn` with its backslash escaped for JSON: five characters `\\xnn`.
void appendInvalidByte(std::string& out, unsigned char c) {
  const char escape[5] = {'\\', '\\', 'x', kHexDigits[c >> 4], kHexDigits[c & 0x0f]};
  out.append(escape, sizeof(escape));
}

}  // namespace

void appendJsonEscaped(std::string& out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = p + bytes.size();
  // Bytes in [run, p) are copied unchanged in one append: plain ASCII and well-formed
  // multi-byte sequences alike.
  const unsigned char* run = p;
  while (true) {
    p = skipPlain(p, end);
    if (p == end) break;
    const unsigned char c = *p;
    if (c >= 0x80) {
      const size_t length = wellFormedLength(p, end);
      if (length != 0) {
        p += length;
        continue;
      }
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    if (c >= 0x80) {
      // Each byte of a broken sequence is replaced on its own; continuation bytes that follow
      // a bad lead are then stray and replaced too, which matches Python's maximal-subpart
      // replacement byte for byte.
      appendInvalidByte(out, c);
    } else if (c < 0x20) {
      appendControlEscape(out, c);
    } else {
      const char escape[2] = {'\\', static_cast<char>(c)};
      out.append(escape, sizeof(escape));
    }
    ++p;
    run = p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
}

}  // namespace kinesyslog::record
