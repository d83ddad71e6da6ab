#include "record/batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace kinesyslog::record {
namespace {

class CollectingSink : public BatchSink {
 public:
  void onBatch(SourceBatch&& batch) override { batches.push_back(std::move(batch)); }
  std::vector<SourceBatch> batches;
};

void add(Batcher& batcher, std::string_view group, std::string_view source, std::string_view text,
         int64_t now) {
  SourceBatch& batch = batcher.batchFor(group, source, now);
  EventRef ref{now, static_cast<uint32_t>(batch.arena.size()), static_cast<uint32_t>(text.size())};
  batch.arena.append(text);
  batch.events.push_back(ref);
  batcher.committed(text.size());
}

TEST(Batcher, KeepsOneBufferPerGroupAndSource) {
  CollectingSink sink;
  Batcher batcher(1 << 20, 1'000'000, sink);
  add(batcher, "g", "10.0.0.1", "a", 0);
  add(batcher, "g", "10.0.0.2", "b", 0);
  add(batcher, "h", "10.0.0.1", "c", 0);
  add(batcher, "g", "10.0.0.1", "d", 0);
  EXPECT_EQ(batcher.sourceCount(), 3u);
  EXPECT_EQ(batcher.bufferedBytes(), 4u);
  batcher.flushAll();
  ASSERT_EQ(sink.batches.size(), 3u);
  size_t events = 0;
  for (const auto& b : sink.batches) {
    events += b.events.size();
    if (b.group == "g" && b.stream == "10.0.0.1") {
      ASSERT_EQ(b.events.size(), 2u);
      EXPECT_EQ(b.message(b.events[0]), "a");
      EXPECT_EQ(b.message(b.events[1]), "d");
    }
  }
  EXPECT_EQ(events, 4u);
  EXPECT_EQ(batcher.bufferedBytes(), 0u);
}

TEST(Batcher, ASourceForgottenWhileIdleIsFoundAgainFromItsNextMessage) {
  CollectingSink sink;
  Batcher batcher(1 << 20, 1'000'000, sink);
  add(batcher, "g", "10.0.0.1", "a", 0);
  batcher.flushDue(1'000'000);  // flushed
  batcher.flushDue(2'000'000);  // idle since: forgotten, its entry freed
  EXPECT_EQ(batcher.sourceCount(), 0u);
  // The same source as the message before the flushes (the batcher's shortcut): a new entry.
  add(batcher, "g", "10.0.0.1", "b", 2'000'000);
  add(batcher, "g", "10.0.0.2", "c", 2'000'000);
  add(batcher, "g", "10.0.0.1", "d", 2'000'000);
  add(batcher, "h", "10.0.0.1", "e", 2'000'000);  // same source, other group: its own batch
  EXPECT_EQ(batcher.sourceCount(), 3u);
  batcher.flushAll();
  ASSERT_EQ(sink.batches.size(), 4u);
  std::vector<std::string> seen;
  for (size_t i = 1; i < sink.batches.size(); ++i) {
    const SourceBatch& b = sink.batches[i];
    std::string line = b.group + "/" + b.stream + ":";
    for (const auto& event : b.events) line += b.message(event);
    seen.push_back(line);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"g/10.0.0.1:bd", "g/10.0.0.2:c", "h/10.0.0.1:e"}));
}

TEST(Batcher, FlushesASourceWhenItsOldestMessageIsOld) {
  CollectingSink sink;
  Batcher batcher(1 << 20, 1'000'000, sink);
  add(batcher, "g", "old", "1", 0);
  add(batcher, "g", "new", "2", 600'000);
  batcher.flushDue(999'999);
  EXPECT_TRUE(sink.batches.empty());
  batcher.flushDue(1'000'000);
  ASSERT_EQ(sink.batches.size(), 1u);
  EXPECT_EQ(sink.batches[0].stream, "old");
  // A later message to the flushed source starts a new age.
  add(batcher, "g", "old", "3", 1'500'000);
  batcher.flushDue(1'600'000);
  ASSERT_EQ(sink.batches.size(), 2u);
  EXPECT_EQ(sink.batches[1].stream, "new");
  batcher.flushDue(2'500'000);
  ASSERT_EQ(sink.batches.size(), 3u);
  EXPECT_EQ(sink.batches[2].message(sink.batches[2].events[0]), "3");
}

TEST(Batcher, FlushesEverythingAtFlushSize) {
  CollectingSink sink;
  Batcher batcher(10, 1'000'000'000, sink);
  add(batcher, "g", "a", "12345", 0);
  add(batcher, "g", "b", "1234", 0);
  EXPECT_TRUE(sink.batches.empty());
  add(batcher, "g", "a", "x", 0);  // 10 bytes in all
  EXPECT_EQ(sink.batches.size(), 2u);
  EXPECT_EQ(batcher.bufferedBytes(), 0u);
}

TEST(Batcher, ForgetsIdleSources) {
  CollectingSink sink;
  Batcher batcher(1 << 20, 100, sink);
  for (int i = 0; i < 1000; ++i) add(batcher, "g", std::to_string(i), "m", 0);
  batcher.flushDue(100);  // flushes all
  batcher.flushDue(200);  // all idle now: forgotten
  EXPECT_EQ(batcher.sourceCount(), 0u);
  EXPECT_EQ(sink.batches.size(), 1000u);
}

// Records what the batcher tells its journal.
class FakeJournal final : public BatchJournal {
 public:
  JournalTicket openBatch(std::string_view group, std::string_view stream) override {
    log.push_back("open " + std::string(group) + " " + std::string(stream));
    return JournalTicket{this, ++serials, 0};
  }
  void appendEvent(uint64_t serial, int64_t, std::string_view message) override {
    log.push_back(std::to_string(serial) + " " + std::string(message));
  }
  void commit() override { log.push_back("commit"); }
  void spooled(const JournalTicket&, uint32_t) override {}
  void release(const JournalTicket&) override {}
  std::vector<std::string> log;
  uint64_t serials = 0;
};

TEST(Batcher, JournalsEveryCommittedMessageUnderItsBatch) {
  CollectingSink sink;
  FakeJournal journal;
  Batcher batcher(10, 1'000'000, sink, nullptr, &journal);
  add(batcher, "g", "a", "12345", 0);
  add(batcher, "g", "b", "1", 0);
  add(batcher, "g", "a", "22", 0);
  batcher.commitJournal();
  add(batcher, "g", "a", "333", 0);  // 11 bytes: flushes both batches, after journaling
  EXPECT_EQ(journal.log, (std::vector<std::string>{"open g a", "1 12345", "open g b", "2 1", "1 22",
                                                   "commit", "1 333"}));
  ASSERT_EQ(sink.batches.size(), 2u);
  for (const auto& b : sink.batches) {
    EXPECT_EQ(b.journal.journal, &journal);
    EXPECT_EQ(b.journal.serial, b.stream == "a" ? 1u : 2u);
  }
  // The next message of a flushed source opens a new batch with a new serial.
  add(batcher, "g", "a", "4", 0);
  EXPECT_EQ(journal.log.back(), "3 4");
}

TEST(Batcher, ABatchWithoutMessagesHoldsNoJournalSerial) {
  CollectingSink sink;
  FakeJournal journal;
  Batcher batcher(1 << 20, 1'000'000, sink, nullptr, &journal);
  batcher.batchFor("g", "a", 0);  // an empty message: nothing appended, committed() not called
  batcher.flushAll();
  EXPECT_TRUE(journal.log.empty());
  EXPECT_TRUE(sink.batches.empty());
}

}  // namespace
}  // namespace kinesyslog::record
