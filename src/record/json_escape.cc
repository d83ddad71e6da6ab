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

#if defined(__SSE2__)
// One bit per byte of `v` that is not plain ASCII. A signed compare against 0x20 catches both
// control characters (0x00-0x1F) and bytes 0x80-0xFF, which are negative as int8.
inline int specialBytes(__m128i v) {
  const __m128i special = _mm_or_si128(
      _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  return _mm_movemask_epi8(special);
}
#endif

// Returns a pointer to the first byte in [p, end) that is not plain ASCII, or end. This is
// the hot loop: syslog text is almost all plain ASCII.
const unsigned char* skipPlain(const unsigned char* p, const unsigned char* end) {
#if defined(__SSE2__)
  while (end - p >= 16) {
    const int mask = specialBytes(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
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

// Longest escape of one input byte: a control character as `\u00xx`.
constexpr size_t kMaxEscapedBytes = 6;
// Room after the output for whole 16-byte stores of plain runs.
constexpr size_t kStoreSlack = 16;

// Writes the escape of control character `c` (below 0x20) at `o`; returns the end of what it
// wrote. Quotes and backslashes are escaped by the caller, in its hot path.
char* writeControlEscape(char* o, unsigned char c) {
  o[0] = '\\';
  switch (c) {
    case '\b':
      o[1] = 'b';
      return o + 2;
    case '\f':
      o[1] = 'f';
      return o + 2;
    case '\n':
      o[1] = 'n';
      return o + 2;
    case '\r':
      o[1] = 'r';
      return o + 2;
    case '\t':
      o[1] = 't';
      return o + 2;
    default:
      o[1] = 'u';
      o[2] = '0';
      o[3] = '0';
      o[4] = kHexDigits[c >> 4];
      o[5] = kHexDigits[c & 0x0f];
      return o + 6;
  }
}

// The text `\xnn` with its backslash escaped for JSON: five characters `\\xnn`.
char* writeInvalidByte(char* o, unsigned char c) {
  o[0] = '\\';
  o[1] = '\\';
  o[2] = 'x';
  o[3] = kHexDigits[c >> 4];
  o[4] = kHexDigits[c & 0x0f];
  return o + 5;
}

// Copies plain ASCII from [p, end) to o until the first byte that is not; advances both. While
// 16 bytes remain they are stored whole before looking at them (the caller keeps kStoreSlack
// bytes of room), so a run costs no call and no length-dependent copy.
void copyPlain(const unsigned char*& p, const unsigned char* end, char*& o) {
#if defined(__SSE2__)
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v);
    const int mask = specialBytes(v);
    if (mask != 0) {
      const int plain = __builtin_ctz(static_cast<unsigned>(mask));
      p += plain;
      o += plain;
      return;
    }
    p += 16;
    o += 16;
  }
#endif
  while (p < end && isPlainAscii(*p)) *o++ = static_cast<char>(*p++);
}

}  // namespace

void appendJsonEscaped(std::string& out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = p + bytes.size();
  const unsigned char* const firstSpecial = skipPlain(p, end);
  if (firstSpecial == end) {
    out.append(bytes);  // most syslog messages: one plain run
    return;
  }
  // Room for the worst case, written through a pointer: an append per escape and per run between
  // them was the largest cost of relaying GELF after compression (its messages are JSON, a quote
  // every few bytes; profile of a GELF/TCP run). Each input byte writes at most
  // kMaxEscapedBytes, so the room left always covers the rest plus a 16-byte store.
  const size_t base = out.size();
  const size_t plainBytes = static_cast<size_t>(firstSpecial - p);
  out.resize(base + plainBytes + static_cast<size_t>(end - firstSpecial) * kMaxEscapedBytes +
             kStoreSlack);
  char* o = out.data() + base;
  std::memcpy(o, p, plainBytes);
  o += plainBytes;
  p = firstSpecial;
  while (p != end) {
    const unsigned char c = *p;
    if (c == '"' || c == '\\') {  // the usual case in GELF: no table jump
      o[0] = '\\';
      o[1] = static_cast<char>(c);
      o += 2;
      ++p;
    } else if (c < 0x80) {
      o = writeControlEscape(o, c);
      ++p;
    } else if (const size_t length = wellFormedLength(p, end); length != 0) {
      std::memcpy(o, p, length);  // copied unchanged
      o += length;
      p += length;
    } else {
      // Each byte of a broken sequence is replaced on its own; continuation bytes that follow
      // a bad lead are then stray and replaced too, which matches Python's maximal-subpart
      // replacement byte for byte.
      o = writeInvalidByte(o, c);
      ++p;
    }
    copyPlain(p, end, o);
  }
  out.resize(static_cast<size_t>(o - out.data()));
}

}  // namespace kinesyslog::record
