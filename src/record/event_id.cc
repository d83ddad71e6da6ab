#include "record/event_id.h"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace kinesyslog::record {
namespace {

// SplitMix64 expands one 64-bit seed into well-mixed words; it is the routine the
// xoshiro authors recommend for seeding, and it never yields the all-zero state xoshiro must avoid.
uint64_t splitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

// Fills buf from getrandom(2); false if the kernel cannot provide the bytes.
bool kernelRandom(void* buf, size_t size) {
  auto* p = static_cast<unsigned char*>(buf);
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::getrandom(p + got, size - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    got += static_cast<size_t>(n);
  }
  return true;
}

constexpr char kHexDigits[] = "0123456789abcdef";

// Writes the 16 octets (`first`'s 8 in memory order, then `second`'s) as the 8-4-4-4-12 text of
// RFC 4122 §3. One id is made per relayed message, so the 32 digits are computed 16 at a time and
// stored straight into place from registers: going through a scratch buffer on the stack made
// store-forwarding stalls the hottest instructions of the function.
void writeUuidText(uint64_t first, uint64_t second, char out[kEventIdLength]) {
#if defined(__SSE2__)
  const __m128i kLowNibble = _mm_set1_epi8(0x0f);
  const __m128i kNine = _mm_set1_epi8(9);
  const __m128i kDigitZero = _mm_set1_epi8('0');
  const __m128i kLetterGap = _mm_set1_epi8('a' - '0' - 10);
  const __m128i in = _mm_set_epi64x(static_cast<int64_t>(second), static_cast<int64_t>(first));
  const __m128i high = _mm_and_si128(_mm_srli_epi16(in, 4), kLowNibble);
  const __m128i low = _mm_and_si128(in, kLowNibble);
  const auto toDigits = [&](__m128i n) {
    const __m128i letters = _mm_and_si128(_mm_cmpgt_epi8(n, kNine), kLetterGap);
    return _mm_add_epi8(_mm_add_epi8(n, kDigitZero), letters);
  };
  // Interleaved, each octet's high nibble comes first: digits 0-15 and 16-31 in reading order.
  const __m128i front = toDigits(_mm_unpacklo_epi8(high, low));
  const __m128i back = toDigits(_mm_unpackhi_epi8(high, low));
  const auto store4 = [](char* at, __m128i v) {
    const int32_t word = _mm_cvtsi128_si32(v);
    std::memcpy(at, &word, 4);
  };
  // Right to left, so that each store may overrun into the next group, which is written later.
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 20), back);  // digits 20-31 at 24-35
  store4(out + 19, back);                                        // digits 16-19
  store4(out + 14, _mm_srli_si128(front, 12));                   // digits 12-15
  store4(out + 9, _mm_srli_si128(front, 8));                     // digits 8-11
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), front);      // digits 0-7
#else
  unsigned char octets[16];
  std::memcpy(octets, &first, 8);
  std::memcpy(octets + 8, &second, 8);
  static constexpr uint8_t kDigitAt[16] = {0,  2,  4,  6,  9,  11, 14, 16,
                                           19, 21, 24, 26, 28, 30, 32, 34};
  for (int i = 0; i < 16; ++i) {
    out[kDigitAt[i]] = kHexDigits[octets[i] >> 4];
    out[kDigitAt[i] + 1] = kHexDigits[octets[i] & 0x0f];
  }
#endif
  out[8] = out[13] = out[18] = out[23] = '-';
}

}  // namespace

EventIdGenerator::EventIdGenerator() {
  std::array<uint64_t, 4> words{};
  if (kernelRandom(words.data(), sizeof(words)) && (words[0] | words[1] | words[2] | words[3])) {
    state_ = words;
    return;
  }
  // Without getrandom (ancient kernel, seccomp) ids must still differ between threads and
  // processes: mix wall clock, monotonic clock and this object's address.
  uint64_t seed =
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  seed ^=
      rotl(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()), 21);
  seed ^= rotl(reinterpret_cast<uintptr_t>(this), 42);
  seedFrom(seed);
}

EventIdGenerator::EventIdGenerator(uint64_t seed) {
  seedFrom(seed);
}

void EventIdGenerator::seedFrom(uint64_t seed) {
  for (auto& word : state_) word = splitMix64(seed);
}

// xoshiro256** 1.0 (Blackman and Vigna, 2018).
uint64_t EventIdGenerator::nextRandom() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the version and variant bits below are placed for little-endian octet order");

void EventIdGenerator::next(char out[kEventIdLength]) {
  // Octets 0-7 are `hi` and 8-15 `lo`, in memory (little-endian) order. RFC 4122 §4.4: version
  // 4 in the high nibble of octet 6, variant 10xx in the top bits of octet 8.
  uint64_t hi = nextRandom();
  uint64_t lo = nextRandom();
  hi = (hi & ~(uint64_t{0xf0} << 48)) | (uint64_t{0x40} << 48);
  lo = (lo & ~uint64_t{0xc0}) | uint64_t{0x80};
  writeUuidText(hi, lo, out);
}

}  // namespace kinesyslog::record
