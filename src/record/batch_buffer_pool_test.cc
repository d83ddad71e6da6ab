#include "record/batch_buffer_pool.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "record/batcher.h"

namespace kinesyslog::record {
namespace {

constexpr size_t kBig = 1 << 20;

SourceBatch batchWithCapacity(size_t capacity) {
  SourceBatch batch;
  batch.arena.reserve(capacity);
  batch.arena.assign(100, 'x');
  batch.events.push_back(EventRef{1, 0, 100});
  return batch;
}

TEST(BatchBufferPool, HandsBackARecycledArenaEmptyAndWithItsCapacity) {
  BatchBufferPool pool(8 * kBig);
  SourceBatch used = batchWithCapacity(kBig);
  const char* storage = used.arena.data();
  pool.recycle(std::move(used));
  EXPECT_EQ(pool.pooledCount(), 1u);
  EXPECT_GE(pool.pooledBytes(), kBig);

  SourceBatch next;
  pool.prepare(next, kBig / 2);
  EXPECT_EQ(next.arena.data(), storage);  // the same memory, not a copy
  EXPECT_TRUE(next.arena.empty());
  EXPECT_TRUE(next.events.empty());
  EXPECT_GE(next.arena.capacity(), kBig);
  EXPECT_EQ(pool.pooledCount(), 0u);
  EXPECT_EQ(pool.pooledBytes(), 0u);
}

TEST(BatchBufferPool, PicksTheSmallestArenaThatFits) {
  BatchBufferPool pool(64 * kBig);
  pool.recycle(batchWithCapacity(4 * kBig));
  pool.recycle(batchWithCapacity(kBig));
  pool.recycle(batchWithCapacity(2 * kBig));
  SourceBatch next;
  pool.prepare(next, kBig + 1);
  EXPECT_GE(next.arena.capacity(), 2 * kBig);
  EXPECT_LT(next.arena.capacity(), 4 * kBig);
  EXPECT_EQ(pool.pooledCount(), 2u);
}

TEST(BatchBufferPool, ReservesWhenNothingFits) {
  BatchBufferPool pool(64 * kBig);
  pool.recycle(batchWithCapacity(kBig));
  SourceBatch next;
  pool.prepare(next, 3 * kBig);
  EXPECT_GE(next.arena.capacity(), 3 * kBig);
  EXPECT_EQ(pool.pooledCount(), 1u);  // the small one stays for someone else
}

TEST(BatchBufferPool, NeverHoldsMoreThanItsBound) {
  BatchBufferPool pool(3 * kBig);
  for (int i = 0; i < 10; ++i) pool.recycle(batchWithCapacity(kBig));
  EXPECT_LE(pool.pooledBytes(), 3 * kBig);
  EXPECT_GE(pool.pooledCount(), 2u);
  EXPECT_LE(pool.pooledCount(), 3u);
}

TEST(BatchBufferPool, IgnoresSmallArenasAndSmallExpectations) {
  BatchBufferPool pool(64 * kBig);
  pool.recycle(batchWithCapacity(BatchBufferPool::kMinPooledCapacity / 2));
  EXPECT_EQ(pool.pooledCount(), 0u);
  pool.recycle(batchWithCapacity(kBig));
  SourceBatch small;
  pool.prepare(small, 1000);
  EXPECT_EQ(pool.pooledCount(), 1u);
  EXPECT_LT(small.arena.capacity(), BatchBufferPool::kMinPooledCapacity);
}

class RecyclingSink : public BatchSink {
 public:
  explicit RecyclingSink(BatchBufferPool& pool) : pool_(pool) {}
  void onBatch(SourceBatch&& batch) override {
    sizes.push_back(batch.arena.size());
    events += batch.events.size();
    pool_.recycle(std::move(batch));
  }
  std::vector<size_t> sizes;
  size_t events = 0;

 private:
  BatchBufferPool& pool_;
};

TEST(BatcherWithPool, ABusySourceReusesItsArenaAfterTheFirstFlush) {
  BatchBufferPool pool(16 * kBig);
  RecyclingSink sink(pool);
  const size_t flushSize = 2 * kBig;
  Batcher batcher(flushSize, 60'000'000, sink, &pool);
  const std::string line(200, 'm');
  size_t added = 0;
  std::vector<const char*> arenas;
  for (int round = 0; round < 4; ++round) {
    // Fill one flush; remember where the arena of this round lives.
    const char* arena = nullptr;
    while (sink.sizes.size() == static_cast<size_t>(round)) {
      SourceBatch& batch = batcher.batchFor("g", "10.0.0.1", 0);
      batch.addEvent(1, line);
      arena = batch.arena.data();
      ++added;
      batcher.committed(line.size());
    }
    arenas.push_back(arena);
  }
  EXPECT_EQ(sink.events, added);
  // From the second batch on, the batch starts with room for a whole flush: no regrowth.
  SourceBatch& next = batcher.batchFor("g", "10.0.0.1", 0);
  EXPECT_GE(next.arena.capacity(), flushSize);
  // Rounds 2 and 3 ran in arenas that came back from the pool (the first round's or the
  // second's), so the relay does not fault in a new arena for each flush.
  EXPECT_TRUE(arenas[2] == arenas[0] || arenas[2] == arenas[1]);
  EXPECT_TRUE(arenas[3] == arenas[1] || arenas[3] == arenas[2]);
}

}  // namespace
}  // namespace kinesyslog::record
