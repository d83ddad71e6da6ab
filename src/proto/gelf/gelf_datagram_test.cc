#include "proto/gelf/gelf_datagram.h"

#include <gtest/gtest.h>
#include <libdeflate.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "proto/gelf/gelf_test_datagrams.h"

namespace kinesyslog::gelf {
namespace {

constexpr int64_t kSecond = 1'000'000;
constexpr std::string_view kJson =
    R"({"version":"1.1","host":"example.org","short_message":"A short message","level":1})";

using testing::compress;

// GELF chunks of `payload`, `size` bytes of payload each (graypy's layout).
std::vector<std::string> chunked(uint64_t id, std::string_view payload, size_t size) {
  const size_t count = (payload.size() + size - 1) / size;
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) {
    std::string d = "\x1e\x0f";
    char idBytes[8];
    std::memcpy(idBytes, &id, sizeof idBytes);
    d.append(idBytes, sizeof idBytes);
    d.push_back(static_cast<char>(i));
    d.push_back(static_cast<char>(count));
    d.append(payload.substr(i * size, size));
    out.push_back(d);
  }
  return out;
}

class GelfDatagramDecoderTest : public ::testing::Test {
 protected:
  DatagramOutcome decode(std::string_view datagram, std::string_view sender = "198.51.100.7") {
    std::string_view message;
    DatagramOutcome outcome = decoder_.decode(sender, datagram, now_, &message);
    if (outcome == DatagramOutcome::kMessage) messages_.emplace_back(message);
    return outcome;
  }
  DatagramOutcome decodeAll(const std::vector<std::string>& datagrams) {
    DatagramOutcome last = DatagramOutcome::kDropped;
    for (const auto& d : datagrams) last = decode(d);
    return last;
  }

  GelfDatagramDecoder decoder_{65536};
  int64_t now_ = 50 * kSecond;
  std::vector<std::string> messages_;
};

TEST_F(GelfDatagramDecoderTest, PlainIsHandedOutWhereItLies) {
  std::string_view message;
  EXPECT_EQ(decoder_.decode("s", kJson, now_, &message), DatagramOutcome::kMessage);
  EXPECT_EQ(message.data(), kJson.data());
  EXPECT_EQ(message.size(), kJson.size());
  EXPECT_EQ(decoder_.inflater().bufferBytes(), 0u);  // no inflation buffer for plain senders
}

TEST_F(GelfDatagramDecoderTest, ZlibAndGzipDatagrams) {
  EXPECT_EQ(decode(compress(GelfEncoding::kZlib, kJson)), DatagramOutcome::kMessage);
  EXPECT_EQ(decode(compress(GelfEncoding::kGzip, kJson)), DatagramOutcome::kMessage);
  ASSERT_EQ(messages_.size(), 2u);
  EXPECT_EQ(messages_[0], kJson);
  EXPECT_EQ(messages_[1], kJson);
}

TEST_F(GelfDatagramDecoderTest, ChunkedCompressedAndPlain) {
  std::string big = R"({"version":"1.1","host":"h","short_message":")";
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; ++i) big += static_cast<char>('a' + rng() % 26);
  big += "\"}";
  EXPECT_EQ(decodeAll(chunked(1, compress(GelfEncoding::kZlib, big), 1420)),
            DatagramOutcome::kMessage);
  EXPECT_EQ(decodeAll(chunked(2, compress(GelfEncoding::kGzip, big), 1420)),
            DatagramOutcome::kMessage);
  auto plain = chunked(3, big, 1420);
  std::reverse(plain.begin(), plain.end());
  EXPECT_EQ(decodeAll(plain), DatagramOutcome::kMessage);
  ASSERT_EQ(messages_.size(), 3u);
  for (const auto& m : messages_) EXPECT_EQ(m, big);
  EXPECT_EQ(decoder_.assembler().counters().completed, 3u);
}

TEST_F(GelfDatagramDecoderTest, PendingUntilTheLastChunk) {
  const auto chunks = chunked(4, kJson, 10);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_EQ(decode(chunks[i]), DatagramOutcome::kPending);
    EXPECT_EQ(decode(chunks[i]), DatagramOutcome::kPending);  // a duplicate
  }
  EXPECT_EQ(decode(chunks.back()), DatagramOutcome::kMessage);
  EXPECT_EQ(messages_.at(0), kJson);
}

TEST_F(GelfDatagramDecoderTest, BombIsDroppedAndCounted) {
  const std::string bomb = compress(GelfEncoding::kZlib, std::string(10 << 20, ' '));
  EXPECT_EQ(decode(bomb), DatagramOutcome::kDropped);
  EXPECT_EQ(decodeAll(chunked(5, compress(GelfEncoding::kGzip, std::string(10 << 20, ' ')), 1400)),
            DatagramOutcome::kDropped);
  EXPECT_EQ(decoder_.counters().inflatedTooLarge, 2u);
  EXPECT_TRUE(messages_.empty());
}

TEST_F(GelfDatagramDecoderTest, CorruptCompressionIsDroppedAndCounted) {
  std::string bad = compress(GelfEncoding::kZlib, kJson);
  bad.resize(bad.size() / 2);
  EXPECT_EQ(decode(bad), DatagramOutcome::kDropped);
  EXPECT_EQ(decode("\x1f\x8b not really gzip"), DatagramOutcome::kDropped);
  EXPECT_EQ(decoder_.counters().decompressFailed, 2u);
}

TEST_F(GelfDatagramDecoderTest, InvalidChunksAreDropped) {
  EXPECT_EQ(decode("\x1e\x0f tiny"), DatagramOutcome::kDropped);
  EXPECT_EQ(decoder_.assembler().counters().invalid, 1u);
}

TEST_F(GelfDatagramDecoderTest, ReassembledChunkMagicIsPlainBytes) {
  EXPECT_EQ(decodeAll(chunked(6, "\x1e\x0f inner bytes", 5)), DatagramOutcome::kMessage);
  EXPECT_EQ(messages_.at(0), "\x1e\x0f inner bytes");
}

TEST_F(GelfDatagramDecoderTest, AnyDatagramMovesExpiryOn) {
  EXPECT_EQ(decode(chunked(7, kJson, 10).front()), DatagramOutcome::kPending);
  now_ += 5 * kSecond;
  EXPECT_EQ(decode(kJson), DatagramOutcome::kMessage);
  EXPECT_EQ(decoder_.assembler().counters().expired, 1u);
  EXPECT_EQ(decoder_.nextDeadline(), std::nullopt);
}

}  // namespace
}  // namespace kinesyslog::gelf
