#include "record/event_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace kinesyslog::record {
namespace {

std::string nextId(EventIdGenerator& generator) {
  char id[kEventIdLength];
  generator.next(id);
  return std::string(id, kEventIdLength);
}

bool isLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// RFC 4122 §3 text form, version 4 (§4.1.3), variant 10xx (§4.1.1).
bool isUuidV4(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !isLowerHex(id[i])) return false;
  }
  return id[14] == '4' && std::string("89ab").find(id[19]) != std::string::npos;
}

TEST(EventIdTest, FormatIsLowercaseUuidV4) {
  EventIdGenerator generator;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = nextId(generator);
    ASSERT_TRUE(isUuidV4(id)) << id;
  }
}

// Known answers: xoshiro256** seeded through SplitMix64 with 42, the first two outputs written
// as octets in little-endian order, version and variant set, and printed with one octet's two
// digits after the other (computed independently, in Python). A digit out of place, a swapped
// nibble or a version bit in the wrong octet changes them.
TEST(EventIdTest, DigitsAreTheRandomOctetsInOrder) {
  EventIdGenerator generator(42);
  EXPECT_EQ(nextId(generator), "16c72e0c-2e0b-4815-be3a-116d86d90461");
  EXPECT_EQ(nextId(generator), "a199e439-3253-47ae-a160-b30347adb8ec");
}

TEST(EventIdTest, IdsAreUnique) {
  EventIdGenerator generator;
  std::set<std::string> seen;
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(seen.insert(nextId(generator)).second);
}

TEST(EventIdTest, IndependentlySeededGeneratorsDiffer) {
  EventIdGenerator a;
  EventIdGenerator b;
  EXPECT_NE(nextId(a), nextId(b));
}

TEST(EventIdTest, FixedSeedIsDeterministic) {
  EventIdGenerator a(42);
  EventIdGenerator b(42);
  EventIdGenerator c(43);
  const std::string first = nextId(a);
  EXPECT_EQ(first, nextId(b));
  EXPECT_NE(first, nextId(c));
}

TEST(EventIdTest, RandomDigitsTakeEveryValue) {
  // Every position except the fixed version and the two fixed variant bits sees all 16 digits.
  EventIdGenerator generator(7);
  std::set<char> digits[36];
  for (int i = 0; i < 2000; ++i) {
    const std::string id = nextId(generator);
    for (size_t k = 0; k < id.size(); ++k) digits[k].insert(id[k]);
  }
  for (size_t k = 0; k < 36; ++k) {
    if (k == 8 || k == 13 || k == 18 || k == 23) continue;
    const size_t expected = k == 14 ? 1 : k == 19 ? 4 : 16;
    EXPECT_EQ(digits[k].size(), expected) << "position " << k;
  }
}

}  // namespace
}  // namespace kinesyslog::record
