#include "proto/gelf/gelf_inflater.h"

#include <gtest/gtest.h>
#include <libdeflate.h>

#include <memory>
#include <random>
#include <string>

#include "proto/gelf/gelf_test_datagrams.h"

namespace kinesyslog::gelf {
namespace {

using namespace std::string_literals;

using testing::compress;

constexpr std::string_view kJson = R"({"version":"1.1","host":"h","short_message":"hello"})";

TEST(GelfEncodingTest, DetectedFromTheFirstBytes) {
  EXPECT_EQ(detectEncoding("\x1e\x0f rest"), GelfEncoding::kChunked);
  EXPECT_EQ(detectEncoding("\x1f\x8b\x08"), GelfEncoding::kGzip);
  EXPECT_EQ(detectEncoding("\x78\x9c"), GelfEncoding::kZlib);  // zlib's default level
  EXPECT_EQ(detectEncoding("\x78\x01"), GelfEncoding::kZlib);  // fastest
  EXPECT_EQ(detectEncoding("\x78\xda"), GelfEncoding::kZlib);  // best
  EXPECT_EQ(detectEncoding(compress(GelfEncoding::kZlib, kJson)), GelfEncoding::kZlib);
  EXPECT_EQ(detectEncoding(compress(GelfEncoding::kGzip, kJson)), GelfEncoding::kGzip);
  EXPECT_EQ(detectEncoding(kJson), GelfEncoding::kPlain);
  EXPECT_EQ(detectEncoding("xylophone"), GelfEncoding::kPlain);  // 'x' without a zlib FCHECK
  EXPECT_EQ(detectEncoding("\x1e"), GelfEncoding::kPlain);
  EXPECT_EQ(detectEncoding(""), GelfEncoding::kPlain);
  EXPECT_EQ(detectEncoding("\x1f\x3c"), GelfEncoding::kPlain);
}

class GelfInflaterTest : public ::testing::Test {
 protected:
  InflateOutcome inflate(GelfEncoding encoding, std::string_view compressed) {
    message_ = "untouched";
    return inflater_.inflate(encoding, compressed, &message_);
  }
  GelfInflater inflater_{65536};
  std::string_view message_;
};

TEST_F(GelfInflaterTest, ZlibAndGzip) {
  for (GelfEncoding e : {GelfEncoding::kZlib, GelfEncoding::kGzip}) {
    for (int level : {0, 1, 6, 12}) {
      ASSERT_EQ(inflate(e, compress(e, kJson, level)), InflateOutcome::kDone);
      EXPECT_EQ(message_, kJson);
    }
  }
  EXPECT_EQ(inflater_.bufferBytes(), 65536u);
}

TEST_F(GelfInflaterTest, EmptyStreamInflatesToNothing) {
  ASSERT_EQ(inflate(GelfEncoding::kZlib, compress(GelfEncoding::kZlib, "")), InflateOutcome::kDone);
  EXPECT_TRUE(message_.empty());
}

TEST_F(GelfInflaterTest, CorruptStreamsAreRefused) {
  for (GelfEncoding e : {GelfEncoding::kZlib, GelfEncoding::kGzip}) {
    const std::string good = compress(e, std::string(5000, 'a') + std::string(kJson));
    // Cut short at every length.
    for (size_t n = 0; n < good.size(); ++n) {
      EXPECT_EQ(inflate(e, good.substr(0, n)), InflateOutcome::kCorrupt) << n;
    }
    // A wrong checksum (zlib's Adler-32 last; gzip's CRC-32 before ISIZE).
    std::string bad = good;
    bad[bad.size() - (e == GelfEncoding::kZlib ? 1 : 5)] ^= 0x40;
    EXPECT_EQ(inflate(e, bad), InflateOutcome::kCorrupt);
  }
  EXPECT_EQ(inflate(GelfEncoding::kZlib, "\x78\x9c garbage garbage garbage"),
            InflateOutcome::kCorrupt);
  EXPECT_EQ(inflate(GelfEncoding::kGzip, "\x1f\x8b\x08\x00 garbage garbage garbage"),
            InflateOutcome::kCorrupt);
  EXPECT_EQ(inflate(GelfEncoding::kPlain, kJson), InflateOutcome::kCorrupt);
  EXPECT_EQ(inflate(GelfEncoding::kChunked, kJson), InflateOutcome::kCorrupt);
}

TEST_F(GelfInflaterTest, RandomBytesNeverInflatePastTheCap) {
  std::mt19937 rng(6);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(1 + rng() % 300, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    junk[0] = '\x78';
    junk[1] = '\x9c';
    InflateOutcome outcome = inflate(GelfEncoding::kZlib, junk);
    if (outcome == InflateOutcome::kDone) {
      EXPECT_LE(message_.size(), 65536u);
    }
    junk[0] = '\x1f';
    junk[1] = '\x8b';
    outcome = inflate(GelfEncoding::kGzip, junk);
    if (outcome == InflateOutcome::kDone) {
      EXPECT_LE(message_.size(), 65536u);
    }
  }
}

TEST_F(GelfInflaterTest, BombStopsAtTheCap) {
  for (GelfEncoding e : {GelfEncoding::kZlib, GelfEncoding::kGzip}) {
    const std::string bomb = compress(e, std::string(20 << 20, '{'), 12);  // 20 MiB
    ASSERT_LT(bomb.size(), 40000u);
    EXPECT_EQ(inflate(e, bomb), InflateOutcome::kTooLarge);
    EXPECT_EQ(message_, "untouched");
  }
}

TEST_F(GelfInflaterTest, ExactlyTheCapFitsOneMoreDoesNot) {
  GelfInflater small(100);
  std::string_view out;
  for (GelfEncoding e : {GelfEncoding::kZlib, GelfEncoding::kGzip}) {
    EXPECT_EQ(small.inflate(e, compress(e, std::string(100, 'q')), &out), InflateOutcome::kDone);
    EXPECT_EQ(out, std::string(100, 'q'));
    EXPECT_EQ(small.inflate(e, compress(e, std::string(101, 'q')), &out),
              InflateOutcome::kTooLarge);
  }
  EXPECT_EQ(small.bufferBytes(), 100u);
}

TEST_F(GelfInflaterTest, GzipMembersAreConcatenatedUnderOneCap) {
  const std::string two = compress(GelfEncoding::kGzip, R"({"version":"1.1",)") +
                          compress(GelfEncoding::kGzip, R"("host":"h","short_message":"m"})");
  ASSERT_EQ(inflate(GelfEncoding::kGzip, two), InflateOutcome::kDone);
  EXPECT_EQ(message_, R"({"version":"1.1","host":"h","short_message":"m"})");

  GelfInflater small(150);
  std::string_view out;
  const std::string member = compress(GelfEncoding::kGzip, std::string(100, 'z'));
  EXPECT_EQ(small.inflate(GelfEncoding::kGzip, member + member, &out), InflateOutcome::kTooLarge);
}

TEST_F(GelfInflaterTest, BytesAfterTheStreamAreIgnored) {
  ASSERT_EQ(inflate(GelfEncoding::kZlib, compress(GelfEncoding::kZlib, kJson) + "\0\0trailer"s),
            InflateOutcome::kDone);
  EXPECT_EQ(message_, kJson);
  ASSERT_EQ(inflate(GelfEncoding::kGzip, compress(GelfEncoding::kGzip, kJson) + "\0\0\0\0"s),
            InflateOutcome::kDone);
  EXPECT_EQ(message_, kJson);
}

}  // namespace
}  // namespace kinesyslog::gelf
