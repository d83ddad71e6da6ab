#include "record/gzip.h"

#include <gtest/gtest.h>
#include <libdeflate.h>

#include <random>
#include <stdexcept>
#include <string>

namespace kinesyslog::record {
namespace {

std::string randomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

std::string textLike(size_t size) {
  std::string s;
  for (int i = 0; s.size() < size; ++i) {
    s += "<13>Feb 21 21:07:50 host.example.com app[" + std::to_string(i % 977) + "]: line " +
         std::to_string(i) + "\n";
  }
  s.resize(size);
  return s;
}

std::string gzipped(std::string_view in, int level = 6) {
  GzipCompressor compressor(level);
  std::string out;
  compressor.compress(in, out);
  return out;
}

TEST(GzipTest, RoundTripAtEveryLevel) {
  const std::string inputs[] = {"", "x", textLike(100000), randomBytes(70000, 1)};
  for (int level = kMinCompressionLevel; level <= kMaxCompressionLevel; ++level) {
    for (const std::string& in : inputs) {
      const std::string member = gzipped(in, level);
      ASSERT_GE(member.size(), 18u);
      EXPECT_EQ(static_cast<unsigned char>(member[0]), 0x1f);
      EXPECT_EQ(static_cast<unsigned char>(member[1]), 0x8b);
      EXPECT_TRUE(isValidGzipMember(member));
      const auto out = gunzip(member, in.size());
      ASSERT_TRUE(out.has_value()) << "level " << level << " size " << in.size();
      EXPECT_EQ(*out, in);
    }
  }
}

TEST(GzipTest, RejectsBadLevels) {
  EXPECT_THROW(GzipCompressor(0), std::invalid_argument);
  EXPECT_THROW(GzipCompressor(13), std::invalid_argument);
}

TEST(GzipTest, RawCompressReportsTooSmallBuffer) {
  GzipCompressor compressor(1);
  const std::string in = randomBytes(1000, 2);
  std::string out(100, '\0');
  EXPECT_EQ(compressor.compress(in, out.data(), out.size()), 0u);
  out.resize(compressor.maxCompressedSize(in.size()));
  EXPECT_GT(compressor.compress(in, out.data(), out.size()), 0u);
}

TEST(GzipTest, CompressorIsMovable) {
  GzipCompressor a(3);
  GzipCompressor b(std::move(a));
  EXPECT_EQ(b.level(), 3);
  std::string out;
  b.compress("hello", out);
  EXPECT_EQ(gunzip(out, 5), "hello");
}

TEST(GzipTest, ConcatenatedMembers) {
  // Firehose concatenates records: an S3 object is a series of members (RFC 1952 §2.2).
  const std::string a = textLike(50000);
  const std::string b = "second";
  const std::string c = randomBytes(3000, 3);
  const std::string all = gzipped(a) + gzipped(b, 1) + gzipped("", 9) + gzipped(c, 12);
  EXPECT_TRUE(isValidGzipMember(all));
  EXPECT_EQ(gunzip(all, 1 << 20), a + b + c);
}

TEST(GzipTest, LargeFirstMemberNeedsMoreThanTheFirstGuess) {
  // The tail ISIZE describes the small last member; the first one inflates ~1000:1.
  const std::string big(20 << 20, 'z');
  const std::string all = gzipped(big, 1) + gzipped("tail");
  const auto out = gunzip(all, 64 << 20);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->size(), big.size() + 4);
  EXPECT_EQ(out->substr(big.size()), "tail");
}

TEST(GzipTest, CorruptCrcIsDetected) {
  std::string member = gzipped(textLike(5000));
  member[member.size() - 8] ^= 0x01;  // CRC-32 is the first trailer word (RFC 1952 §2.3.1)
  EXPECT_FALSE(isValidGzipMember(member));
  EXPECT_FALSE(gunzip(member, 1 << 20).has_value());
}

TEST(GzipTest, CorruptSizeIsDetected) {
  std::string member = gzipped(textLike(5000));
  member[member.size() - 4] ^= 0x01;  // ISIZE
  EXPECT_FALSE(isValidGzipMember(member));
}

TEST(GzipTest, CorruptDataIsDetected) {
  const std::string good = gzipped(textLike(5000));
  for (size_t pos = 10; pos < good.size() - 8; pos += 7) {
    std::string member = good;
    member[pos] ^= 0x20;
    EXPECT_FALSE(isValidGzipMember(member)) << pos;
  }
}

TEST(GzipTest, CorruptCrcInSecondMemberIsDetected) {
  std::string second = gzipped("second member");
  second[second.size() - 7] ^= 0x40;
  EXPECT_FALSE(isValidGzipMember(gzipped("first") + second));
}

TEST(GzipTest, TruncatedMembersAreDetected) {
  const std::string member = gzipped(textLike(3000));
  for (size_t size = 0; size < member.size(); ++size) {
    EXPECT_FALSE(isValidGzipMember(member.substr(0, size))) << size;
  }
  const std::string two = gzipped("first") + member;
  for (size_t size = two.size() - member.size() + 1; size < two.size(); ++size) {
    EXPECT_FALSE(gunzip(two.substr(0, size), 1 << 20).has_value()) << size;
  }
}

TEST(GzipTest, TrailingGarbageIsRejected) {
  const std::string member = gzipped("payload");
  EXPECT_FALSE(isValidGzipMember(member + std::string(1, '\0')));
  EXPECT_FALSE(isValidGzipMember(member + std::string(40, '\0')));
  EXPECT_FALSE(isValidGzipMember(member + "not gzip at all, but long enough"));
}

TEST(GzipTest, EmptyAndNonGzipInputs) {
  EXPECT_FALSE(gunzip("", 100).has_value());
  EXPECT_FALSE(isValidGzipMember(""));
  EXPECT_FALSE(isValidGzipMember("plain text that is definitely not gzip"));
  EXPECT_FALSE(isValidGzipMember(randomBytes(1000, 9)));
}

TEST(GzipTest, MaxOutputIsRespected) {
  const std::string in = textLike(10000);
  const std::string member = gzipped(in);
  EXPECT_EQ(gunzip(member, in.size()), in);
  EXPECT_FALSE(gunzip(member, in.size() - 1).has_value());
  EXPECT_FALSE(gunzip(member, 0).has_value());
  EXPECT_FALSE(isValidGzipMember(member, 100));

  // The bound covers all members together.
  const std::string two = member + member;
  EXPECT_TRUE(gunzip(two, 2 * in.size()).has_value());
  EXPECT_FALSE(gunzip(two, 2 * in.size() - 1).has_value());

  // An empty member fits in a zero budget.
  EXPECT_EQ(gunzip(gzipped(""), 0), "");
}

TEST(GzipTest, BombIsStoppedAtTheBound) {
  const std::string member = gzipped(std::string(20 << 20, '\0'), 6);
  EXPECT_LT(member.size(), 100000u);
  EXPECT_FALSE(gunzip(member, 1 << 20).has_value());
}

TEST(GzipTest, ReadsMembersWrittenByOthers) {
  // A hand-made member with the FNAME flag (RFC 1952 §2.3.1) and a stored block (RFC 1951
  // §3.2.4), as another gzip writer might produce it.
  const std::string text = "hello, world";
  std::string member = {'\x1f', '\x8b', '\x08', '\x08', 0, 0, 0, 0, 0, '\x03'};
  member += std::string("hello.txt") + '\0';
  member += '\x01';  // BFINAL=1, BTYPE=00 (stored)
  const auto len = static_cast<uint16_t>(text.size());
  member += static_cast<char>(len & 0xFF);
  member += static_cast<char>(len >> 8);
  member += static_cast<char>(~len & 0xFF);
  member += static_cast<char>((~len >> 8) & 0xFF);
  member += text;
  const uint32_t crc = libdeflate_crc32(0, text.data(), text.size());
  for (uint32_t word : {crc, static_cast<uint32_t>(text.size())}) {
    for (int shift = 0; shift < 32; shift += 8) member += static_cast<char>(word >> shift & 0xFF);
  }
  EXPECT_EQ(gunzip(member, 100), text);
}

}  // namespace
}  // namespace kinesyslog::record
