#include "proto/gelf/gelf_chunk_assembler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "proto/gelf/gelf_test_datagrams.h"

namespace kinesyslog::gelf {
namespace {

constexpr int64_t kSecond = 1'000'000;

using testing::chunk;

// `message` cut into `count` chunks of nearly equal size.
std::vector<std::string> chunksOf(uint64_t id, std::string_view message, unsigned count) {
  std::vector<std::string> out;
  const size_t step = (message.size() + count - 1) / count;
  for (unsigned i = 0; i < count; ++i) {
    const size_t from = std::min(message.size(), i * step);
    out.push_back(chunk(id, i, count, message.substr(from, step)));
  }
  return out;
}

GelfChunkLimits smallLimits() {
  GelfChunkLimits limits{};
  limits.maxSetBytes = 1000;
  limits.maxSenderBytes = 8000;
  limits.maxTotalBytes = 20000;
  limits.maxSenderSets = 4;
  limits.maxTotalSets = 10;
  limits.timeoutMicros = 5 * kSecond;
  return limits;
}

class GelfChunkAssemblerTest : public ::testing::Test {
 protected:
  explicit GelfChunkAssemblerTest(GelfChunkLimits limits = smallLimits()) : assembler_(limits) {}

  ChunkOutcome add(std::string_view sender, std::string_view datagram) {
    std::string_view message;
    ChunkOutcome outcome = assembler_.add(sender, datagram, now_, &message);
    if (outcome == ChunkOutcome::kComplete) messages_.emplace_back(message);
    return outcome;
  }
  // Adds all chunks; returns the last outcome.
  ChunkOutcome addAll(std::string_view sender, const std::vector<std::string>& chunks) {
    ChunkOutcome last = ChunkOutcome::kInvalid;
    for (const auto& c : chunks) last = add(sender, c);
    return last;
  }

  GelfChunkAssembler assembler_;
  int64_t now_ = 1000 * kSecond;
  std::vector<std::string> messages_;
};

TEST_F(GelfChunkAssemblerTest, InOrderChunksMakeOneMessage) {
  const auto chunks = chunksOf(1, "the quick brown fox jumps over the lazy dog", 5);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_EQ(add("10.0.0.1", chunks[i]), ChunkOutcome::kNeedMore);
  }
  EXPECT_EQ(add("10.0.0.1", chunks.back()), ChunkOutcome::kComplete);
  ASSERT_EQ(messages_.size(), 1u);
  EXPECT_EQ(messages_[0], "the quick brown fox jumps over the lazy dog");
  EXPECT_EQ(assembler_.heldSets(), 0u);
  EXPECT_EQ(assembler_.heldBytes(), 0u);
  EXPECT_EQ(assembler_.senderCount(), 0u);
  EXPECT_EQ(assembler_.counters().chunks, 5u);
  EXPECT_EQ(assembler_.counters().completed, 1u);
}

TEST_F(GelfChunkAssemblerTest, AnyOrderGivesTheSameMessage) {
  const std::string message = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    auto chunks = chunksOf(100 + round, message, 1 + round % 9);
    std::shuffle(chunks.begin(), chunks.end(), rng);
    EXPECT_EQ(addAll("10.0.0.1", chunks), ChunkOutcome::kComplete);
  }
  ASSERT_EQ(messages_.size(), 50u);
  for (const auto& m : messages_) EXPECT_EQ(m, message);
  EXPECT_EQ(assembler_.heldBytes(), 0u);
}

TEST_F(GelfChunkAssemblerTest, SingleChunkIsHandedOutWithoutState) {
  const std::string d = chunk(9, 0, 1, "whole");
  std::string_view message;
  EXPECT_EQ(assembler_.add("a", d, now_, &message), ChunkOutcome::kComplete);
  EXPECT_EQ(message, "whole");
  EXPECT_EQ(message.data(), d.data() + kChunkHeaderBytes);  // zero copy
  EXPECT_EQ(assembler_.heldSets(), 0u);
}

TEST_F(GelfChunkAssemblerTest, DuplicatesAreIgnored) {
  const auto chunks = chunksOf(2, "abcdefghij", 3);
  EXPECT_EQ(add("s", chunks[0]), ChunkOutcome::kNeedMore);
  EXPECT_EQ(add("s", chunks[0]), ChunkOutcome::kDuplicate);
  // Same sequence number, different bytes: the first one stays.
  EXPECT_EQ(add("s", chunk(2, 0, 3, "XXXX")), ChunkOutcome::kDuplicate);
  EXPECT_EQ(add("s", chunks[2]), ChunkOutcome::kNeedMore);
  EXPECT_EQ(add("s", chunks[1]), ChunkOutcome::kComplete);
  ASSERT_EQ(messages_.size(), 1u);
  EXPECT_EQ(messages_[0], "abcdefghij");
  EXPECT_EQ(assembler_.counters().duplicate, 2u);
  // After completion the id is free again: a repeat starts a new set.
  EXPECT_EQ(add("s", chunks[0]), ChunkOutcome::kNeedMore);
}

TEST_F(GelfChunkAssemblerTest, SendersNeverMix) {
  const auto a = chunksOf(5, "from sender A!", 2);
  const auto b = chunksOf(5, "from sender B?", 2);  // the same id
  EXPECT_EQ(add("192.0.2.1", a[0]), ChunkOutcome::kNeedMore);
  EXPECT_EQ(add("192.0.2.2", b[1]), ChunkOutcome::kNeedMore);
  // B's chunk 0 cannot complete A's set, nor is it a duplicate of A's.
  EXPECT_EQ(add("192.0.2.2", b[0]), ChunkOutcome::kComplete);
  EXPECT_EQ(add("192.0.2.1", a[1]), ChunkOutcome::kComplete);
  ASSERT_EQ(messages_.size(), 2u);
  EXPECT_EQ(messages_[0], "from sender B?");
  EXPECT_EQ(messages_[1], "from sender A!");
}

TEST_F(GelfChunkAssemblerTest, InvalidHeadersAreRefused) {
  EXPECT_EQ(add("s", "\x1e\x0f short"), ChunkOutcome::kInvalid);  // under 12 bytes
  EXPECT_EQ(add("s", "not a chunk at all"), ChunkOutcome::kInvalid);
  EXPECT_EQ(add("s", chunk(1, 0, 0, "count zero")), ChunkOutcome::kInvalid);
  EXPECT_EQ(add("s", chunk(1, 0, 129, "count 129")), ChunkOutcome::kInvalid);
  EXPECT_EQ(add("s", chunk(1, 255, 255, "count 255")), ChunkOutcome::kInvalid);
  EXPECT_EQ(add("s", chunk(1, 3, 3, "seq = count")), ChunkOutcome::kInvalid);
  EXPECT_EQ(add("s", chunk(1, 9, 3, "seq > count")), ChunkOutcome::kInvalid);
  EXPECT_EQ(assembler_.counters().invalid, 7u);
  EXPECT_EQ(assembler_.counters().chunks, 0u);
  EXPECT_EQ(assembler_.heldSets(), 0u);
}

TEST_F(GelfChunkAssemblerTest, OneHundredTwentyEightChunksIsTheMost) {
  GelfChunkLimits limits = smallLimits();
  limits.maxSetBytes = 1000;
  GelfChunkAssembler big(limits);
  std::string message;
  for (int i = 0; i < 128; ++i) message += static_cast<char>('a' + i % 26);
  auto chunks = chunksOf(77, message, 128);
  std::reverse(chunks.begin(), chunks.end());
  std::string_view out;
  ChunkOutcome last = ChunkOutcome::kInvalid;
  for (const auto& c : chunks) last = big.add("s", c, now_, &out);
  EXPECT_EQ(last, ChunkOutcome::kComplete);
  EXPECT_EQ(out, message);
}

TEST_F(GelfChunkAssemblerTest, ACountThatContradictsItsSetIsRefused) {
  const auto chunks = chunksOf(3, "abcdef", 3);
  EXPECT_EQ(add("s", chunks[0]), ChunkOutcome::kNeedMore);
  EXPECT_EQ(add("s", chunk(3, 1, 4, "cd")), ChunkOutcome::kInvalid);
  EXPECT_EQ(add("s", chunk(3, 0, 1, "whole?")), ChunkOutcome::kInvalid);
  EXPECT_EQ(assembler_.counters().invalid, 2u);
  // The set itself is kept and still completes.
  EXPECT_EQ(add("s", chunks[1]), ChunkOutcome::kNeedMore);
  EXPECT_EQ(add("s", chunks[2]), ChunkOutcome::kComplete);
  EXPECT_EQ(messages_.at(0), "abcdef");
}

TEST_F(GelfChunkAssemblerTest, SetsExpireFiveSecondsAfterTheirFirstChunk) {
  const auto chunks = chunksOf(4, "never completes", 3);
  EXPECT_EQ(add("s", chunks[0]), ChunkOutcome::kNeedMore);
  EXPECT_EQ(assembler_.nextDeadline(), now_ + 5 * kSecond);
  now_ += 5 * kSecond - 1;
  EXPECT_EQ(add("s", chunks[1]), ChunkOutcome::kNeedMore);  // just in time: kept
  assembler_.expire(now_);
  EXPECT_EQ(assembler_.heldSets(), 1u);
  now_ += 1;
  assembler_.expire(now_);
  EXPECT_EQ(assembler_.heldSets(), 0u);
  EXPECT_EQ(assembler_.heldBytes(), 0u);
  EXPECT_EQ(assembler_.counters().expired, 1u);
  EXPECT_EQ(assembler_.nextDeadline(), std::nullopt);
  // The late chunk starts a new set, which never completes: nothing partial is handed out.
  EXPECT_EQ(add("s", chunks[2]), ChunkOutcome::kNeedMore);
  EXPECT_TRUE(messages_.empty());
  now_ += 5 * kSecond;
  assembler_.expire(now_);
  EXPECT_EQ(assembler_.counters().expired, 2u);
}

TEST_F(GelfChunkAssemblerTest, ADeadlineIsKeptEvenWhenChunksKeepComing) {
  const auto chunks = chunksOf(4, "abcdefghijklmnopqrstuvwxyz", 26);
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(add("s", chunks[i]), ChunkOutcome::kNeedMore);
    now_ += kSecond / 4;  // the set is 6.25 s old by the last chunk
  }
  EXPECT_EQ(add("s", chunks[25]), ChunkOutcome::kNeedMore);  // a new set: the old one expired
  EXPECT_EQ(assembler_.counters().expired, 1u);
  EXPECT_TRUE(messages_.empty());
}

TEST_F(GelfChunkAssemblerTest, AddExpiresBeforeItStores) {
  EXPECT_EQ(add("old", chunk(1, 0, 2, "x")), ChunkOutcome::kNeedMore);
  now_ += 6 * kSecond;
  EXPECT_EQ(add("new", chunk(2, 0, 2, "y")), ChunkOutcome::kNeedMore);
  EXPECT_EQ(assembler_.counters().expired, 1u);
  EXPECT_EQ(assembler_.heldSetsFor("old"), 0u);
  EXPECT_EQ(assembler_.heldSetsFor("new"), 1u);
}

TEST_F(GelfChunkAssemblerTest, OversizeSetIsDroppedWhole) {
  // maxSetBytes is 1000.
  EXPECT_EQ(add("s", chunk(6, 0, 3, std::string(600, 'a'))), ChunkOutcome::kNeedMore);
  EXPECT_EQ(add("s", chunk(6, 1, 3, std::string(401, 'b'))), ChunkOutcome::kOversize);
  EXPECT_EQ(assembler_.heldSets(), 0u);
  EXPECT_EQ(add("s", chunk(7, 0, 1, std::string(1001, 'c'))), ChunkOutcome::kOversize);
  EXPECT_EQ(add("s", chunk(8, 0, 2, std::string(1001, 'c'))), ChunkOutcome::kOversize);
  EXPECT_EQ(assembler_.counters().oversize, 3u);
  EXPECT_EQ(assembler_.heldSets(), 0u);
  // Exactly the cap is fine.
  EXPECT_EQ(add("s", chunk(9, 0, 2, std::string(500, 'd'))), ChunkOutcome::kNeedMore);
  EXPECT_EQ(add("s", chunk(9, 1, 2, std::string(500, 'e'))), ChunkOutcome::kComplete);
  EXPECT_EQ(messages_.at(0).size(), 1000u);
}

TEST_F(GelfChunkAssemblerTest, PerSenderSetCapEvictsThatSendersOldestFirst) {
  // maxSenderSets is 4.
  for (uint64_t id = 1; id <= 4; ++id) {
    EXPECT_EQ(add("flood", chunk(id, 0, 2, "x")), ChunkOutcome::kNeedMore);
    now_ += 1;
  }
  EXPECT_EQ(add("good", chunk(50, 0, 2, "hel")), ChunkOutcome::kNeedMore);
  EXPECT_EQ(add("flood", chunk(5, 0, 2, "x")), ChunkOutcome::kNeedMore);
  EXPECT_EQ(assembler_.counters().evicted, 1u);
  EXPECT_EQ(assembler_.heldSetsFor("flood"), 4u);
  // id 1 (the oldest) went: its second chunk starts a new set instead of completing.
  EXPECT_EQ(add("flood", chunk(1, 1, 2, "y")), ChunkOutcome::kNeedMore);
  EXPECT_EQ(assembler_.counters().evicted, 2u);  // and that evicted id 2
  EXPECT_EQ(add("flood", chunk(3, 1, 2, "y")), ChunkOutcome::kComplete);
  EXPECT_EQ(messages_.at(0), "xy");
  // The other sender was never touched.
  EXPECT_EQ(add("good", chunk(50, 1, 2, "lo")), ChunkOutcome::kComplete);
  EXPECT_EQ(messages_.at(1), "hello");
}

TEST_F(GelfChunkAssemblerTest, FloodOfFirstChunksStaysWithinEveryCap) {
  const GelfChunkLimits& limits = assembler_.limits();
  std::mt19937_64 rng(11);
  for (int i = 0; i < 100'000; ++i) {
    const std::string sender = "flood-" + std::to_string(i % 3);
    EXPECT_EQ(add(sender, chunk(rng(), 0, 128, std::string(rng() % 900, 'f'))),
              ChunkOutcome::kNeedMore);
    ASSERT_LE(assembler_.heldSets(), limits.maxTotalSets);
    ASSERT_LE(assembler_.heldBytes(), limits.maxTotalBytes);
    ASSERT_LE(assembler_.heldSetsFor(sender), limits.maxSenderSets);
    ASSERT_LE(assembler_.heldBytesFor(sender), limits.maxSenderBytes);
    if (i % 1000 == 0) {
      // A well-behaved sender in the middle of the flood.
      const auto good = chunksOf(i, "intact " + std::to_string(i), 3);
      for (const auto& c : good) {
        // Outcomes vary with the flood; the caps and the messages are checked.
        (void)add("good", c);
        (void)add("flood-0", chunk(rng(), 0, 128, std::string(800, 'f')));
      }
    }
    now_ += 10;  // 100,000 chunks a second
  }
  EXPECT_EQ(messages_.size(), 100u);
  for (size_t k = 0; k < messages_.size(); ++k) {
    EXPECT_EQ(messages_[k], "intact " + std::to_string(k * 1000));
  }
  EXPECT_GE(assembler_.counters().evicted, 99'000u);
  now_ += 5 * kSecond;
  assembler_.expire(now_);
  EXPECT_EQ(assembler_.heldSets(), 0u);
  EXPECT_EQ(assembler_.heldBytes(), 0u);
  EXPECT_EQ(assembler_.senderCount(), 0u);
}

TEST_F(GelfChunkAssemblerTest, OverallCapsEvictTheOldestOfAnySender) {
  // maxTotalSets is 10, maxSenderSets 4: three senders with 4, 4 and then 3 sets.
  for (int s = 0; s < 3; ++s) {
    for (uint64_t id = 1; id <= 4; ++id) {
      (void)add("sender-" + std::to_string(s), chunk(id, 0, 2, "x"));  // evictions: below
      now_ += 1;
    }
  }
  EXPECT_EQ(assembler_.heldSets(), 10u);
  EXPECT_EQ(assembler_.counters().evicted, 2u);
  EXPECT_EQ(assembler_.heldSetsFor("sender-0"), 2u);  // its ids 1 and 2 were the oldest
  EXPECT_EQ(add("sender-0", chunk(3, 1, 2, "y")), ChunkOutcome::kComplete);
  EXPECT_EQ(add("sender-0", chunk(1, 1, 2, "y")), ChunkOutcome::kNeedMore);
}

GelfChunkLimits byteLimits() {
  GelfChunkLimits limits = smallLimits();
  limits.maxSenderBytes = 5000;
  limits.maxSenderSets = 100;
  limits.maxTotalSets = 100;
  return limits;
}

TEST(GelfChunkAssemblerBytesTest, ByteCapsCountWhatIsAllocated) {
  GelfChunkAssembler assembler(byteLimits());
  std::string_view out;
  // 900-byte first pieces fill 5000 bytes after a handful of sets; the count caps never bind.
  for (uint64_t id = 1; id <= 20; ++id) {
    EXPECT_EQ(assembler.add("s", chunk(id, 0, 3, std::string(900, 'p')), 0, &out),
              ChunkOutcome::kNeedMore);
    EXPECT_LE(assembler.heldBytesFor("s"), 5000u);
    EXPECT_GE(assembler.heldBytesFor("s"), assembler.heldSetsFor("s") * 900);
  }
  // 900 bytes and the bookkeeping (a few hundred bytes) per set: four or five sets fit.
  EXPECT_GE(assembler.heldSetsFor("s"), 4u);
  EXPECT_LE(assembler.heldSetsFor("s"), 5u);
  EXPECT_EQ(assembler.counters().evicted, 20 - assembler.heldSetsFor("s"));
  // A flood of empty first pieces is bounded by bytes too: each set is charged its bookkeeping.
  for (uint64_t id = 100; id < 1000; ++id) {
    (void)assembler.add("t", chunk(id, 0, 3, ""), 0, &out);
    EXPECT_LE(assembler.heldBytes(), assembler.limits().maxTotalBytes);
  }
  EXPECT_LE(assembler.heldSetsFor("t"), 100u);
}

TEST(GelfChunkAssemblerBytesTest, TheSetBeingCompletedIsNotEvictedForItsOwnChunk) {
  GelfChunkAssembler assembler(byteLimits());
  std::string_view out;
  // The oldest set, then others until the sender is nearly full.
  EXPECT_EQ(assembler.add("s", chunk(1, 0, 2, "a"), 0, &out), ChunkOutcome::kNeedMore);
  uint64_t id = 2;
  while (assembler.heldBytesFor("s") + 700 < 5000) {
    EXPECT_EQ(assembler.add("s", chunk(id++, 0, 2, std::string(400, 'b')), 0, &out),
              ChunkOutcome::kNeedMore);
  }
  EXPECT_EQ(assembler.counters().evicted, 0u);
  // Growing the oldest set needs room: the next oldest goes, not the set itself.
  EXPECT_EQ(assembler.add("s", chunk(1, 1, 2, std::string(999, 'c')), 0, &out),
            ChunkOutcome::kComplete);
  EXPECT_EQ(out, "a" + std::string(999, 'c'));
  EXPECT_GE(assembler.counters().evicted, 1u);
  EXPECT_EQ(assembler.add("s", chunk(2, 1, 2, "late"), 0, &out), ChunkOutcome::kNeedMore);
}

TEST(GelfChunkLimitsTest, DerivedFromTheMaximumMessageSize) {
  const GelfChunkLimits d = GelfChunkLimits::forMaxMessageSize(65536);
  EXPECT_EQ(d.maxSetBytes, 65536u + 1024);
  EXPECT_EQ(d.maxSenderBytes, 8 * (65536u + 1024));
  EXPECT_EQ(d.maxTotalBytes, 32 * (65536u + 1024));
  EXPECT_EQ(d.maxSenderSets, 64u);
  EXPECT_EQ(d.maxTotalSets, 1024u);
  EXPECT_EQ(d.timeoutMicros, 5 * kSecond);
  const GelfChunkLimits m = GelfChunkLimits::forMaxMessageSize(262144);
  EXPECT_EQ(m.maxTotalBytes, 32 * (262144u + 1024));
}

TEST(GelfChunkLimitsTest, TinyLimitsStillFitOneFullSet) {
  GelfChunkLimits tiny{};
  tiny.maxSetBytes = 300;
  tiny.maxSenderBytes = 1;
  tiny.maxTotalBytes = 1;
  tiny.maxSenderSets = 0;
  tiny.maxTotalSets = 0;
  tiny.timeoutMicros = kSecond;
  GelfChunkAssembler assembler(tiny);
  std::string_view out;
  std::vector<std::string> chunks = chunksOf(1, std::string(300, 'z'), 128);
  ChunkOutcome last = ChunkOutcome::kInvalid;
  for (const auto& c : chunks) last = assembler.add("s", c, 0, &out);
  EXPECT_EQ(last, ChunkOutcome::kComplete);
  EXPECT_EQ(out, std::string(300, 'z'));
}

}  // namespace
}  // namespace kinesyslog::gelf
