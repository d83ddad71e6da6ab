#include "record/event_id.h"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstring>

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

void EventIdGenerator::next(char out[kEventIdLength]) {
  unsigned char bytes[16];
  const uint64_t hi = nextRandom();
  const uint64_t lo = nextRandom();
  std::memcpy(bytes, &hi, 8);
  std::memcpy(bytes + 8, &lo, 8);
  // RFC 4122 §4.4: version 4 in the high nibble of octet 6, variant 10xx in octet 8.
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  char* p = out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
    *p++ = kHexDigits[bytes[i] >> 4];
    *p++ = kHexDigits[bytes[i] & 0x0f];
  }
}

}  // namespace kinesyslog::record
