#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace kinesyslog::record {

// Length of the text form of an event id: 8-4-4-4-12 hex digits with dashes (RFC 4122 §3).
inline constexpr size_t kEventIdLength = 36;

// Makes the `id` of each event: a random UUID, version 4 (RFC 4122 §4.4), written in lowercase
// hex. Ids only need to be unique, not unpredictable, so a fast PRNG (xoshiro256**) seeded once
// from the kernel's CSPRNG replaces a system call per event.
//
// Not thread-safe: each encoder thread owns its own generator. Separately seeded generators
// give independent 122-bit random ids, so collisions between threads are as unlikely as any
// two random UUIDs.
class EventIdGenerator {
 public:
  // Seeds from getrandom(2); falls back to clock and address entropy if the kernel refuses.
  EventIdGenerator();
  // Deterministic seed, for tests and benchmarks only.
  explicit EventIdGenerator(uint64_t seed);

  EventIdGenerator(const EventIdGenerator&) = delete;
  EventIdGenerator& operator=(const EventIdGenerator&) = delete;

  // Writes exactly kEventIdLength characters (no terminating NUL).
  void next(char out[kEventIdLength]);

 private:
  uint64_t nextRandom();
  void seedFrom(uint64_t seed);

  std::array<uint64_t, 4> state_;
};

}  // namespace kinesyslog::record
