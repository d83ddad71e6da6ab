#include "spool/journal_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kinesyslog::spool {
namespace {

// Every item as one line of text, to compare whole sequences.
class RecordingSink final : public JournalItemSink {
 public:
  void onBatchOpened(uint64_t serial, std::string_view group, std::string_view stream) override {
    items.push_back("B " + std::to_string(serial) + " " + std::string(group) + " " +
                    std::string(stream));
  }
  void onEvent(uint64_t serial, int64_t timestampMs, std::string_view message) override {
    items.push_back("E " + std::to_string(serial) + " " + std::to_string(timestampMs) + " " +
                    std::string(message));
  }
  void onSpooled(uint64_t serial, uint32_t eventsEnd) override {
    items.push_back("S " + std::to_string(serial) + " " + std::to_string(eventsEnd));
  }
  std::vector<std::string> items;
};

std::string firstFrame() {
  std::string frame;
  beginJournalFrame(frame);
  appendJournalBatchOpened(frame, 7, "syslog_message", "192.0.2.1");
  appendJournalEvent(frame, 7, 1519247270240, "<13>1 - host app - - - hello");
  appendJournalEvent(frame, 7, -5, std::string("bin\0ary\n", 8));
  finishJournalFrame(frame);
  return frame;
}

std::string secondFrame() {
  std::string frame;
  beginJournalFrame(frame);
  appendJournalSpooled(frame, 7, 2);
  appendJournalEvent(frame, 7, 1, "");
  finishJournalFrame(frame);
  return frame;
}

const std::vector<std::string> kFirstItems = {"B 7 syslog_message 192.0.2.1",
                                              "E 7 1519247270240 <13>1 - host app - - - hello",
                                              "E 7 -5 " + std::string("bin\0ary\n", 8)};

TEST(JournalFormat, ItemsComeBackInOrder) {
  RecordingSink sink;
  const std::string data = firstFrame() + secondFrame();
  const JournalParseResult result = parseJournalSegment(data, sink);
  EXPECT_EQ(result.frames, 2u);
  EXPECT_EQ(result.validBytes, data.size());
  EXPECT_TRUE(result.problem.empty());
  std::vector<std::string> want = kFirstItems;
  want.push_back("S 7 2");
  want.push_back("E 7 1 ");
  EXPECT_EQ(sink.items, want);
}

TEST(JournalFormat, EmptySegmentIsFine) {
  RecordingSink sink;
  const JournalParseResult result = parseJournalSegment("", sink);
  EXPECT_EQ(result.frames, 0u);
  EXPECT_TRUE(result.problem.empty());
}

TEST(JournalFormat, AFrameWithoutItemsIsNotWritten) {
  std::string frame;
  beginJournalFrame(frame);
  EXPECT_FALSE(hasJournalItems(frame));
  appendJournalSpooled(frame, 1, 1);
  EXPECT_TRUE(hasJournalItems(frame));
}

// A crash can cut the last write anywhere: every whole frame before the cut is read, nothing of
// the torn one.
TEST(JournalFormat, TornTailAtEveryByte) {
  const std::string first = firstFrame();
  const std::string data = first + secondFrame();
  for (size_t cut = 0; cut < data.size(); ++cut) {
    RecordingSink sink;
    const JournalParseResult result =
        parseJournalSegment(std::string_view(data).substr(0, cut), sink);
    if (cut < first.size()) {
      EXPECT_EQ(result.frames, 0u) << cut;
      EXPECT_TRUE(sink.items.empty()) << cut;
      EXPECT_EQ(result.problem.empty(), cut == 0) << cut;
    } else {
      EXPECT_EQ(result.frames, 1u) << cut;
      EXPECT_EQ(sink.items, kFirstItems) << cut;
      EXPECT_EQ(result.validBytes, first.size()) << cut;
      EXPECT_EQ(result.problem.empty(), cut == first.size()) << cut;
    }
  }
}

TEST(JournalFormat, ADamagedByteStopsReadingAtItsFrame) {
  const std::string first = firstFrame();
  const std::string good = first + secondFrame();
  for (size_t at = first.size(); at < good.size(); ++at) {
    std::string data = good;
    data[at] = static_cast<char>(data[at] ^ 0x20);
    RecordingSink sink;
    const JournalParseResult result = parseJournalSegment(data, sink);
    EXPECT_EQ(result.frames, 1u) << at;
    EXPECT_EQ(sink.items, kFirstItems) << at;
    EXPECT_FALSE(result.problem.empty()) << at;
  }
}

TEST(JournalFormat, AMalformedItemWithAGoodCrcIsRefusedWhole) {
  // A frame whose CRC matches but whose items do not parse: written by something else.
  std::string frame;
  beginJournalFrame(frame);
  appendJournalSpooled(frame, 1, 1);
  frame.push_back('X');
  frame.append(8, '\0');
  finishJournalFrame(frame);
  RecordingSink sink;
  const JournalParseResult result = parseJournalSegment(frame, sink);
  EXPECT_EQ(result.frames, 0u);
  EXPECT_TRUE(sink.items.empty());
  EXPECT_EQ(result.problem, "malformed item in a frame");

  // An event whose length runs past its frame.
  beginJournalFrame(frame);
  appendJournalEvent(frame, 1, 1, "abc");
  frame.resize(frame.size() - 1);
  finishJournalFrame(frame);
  sink.items.clear();
  EXPECT_EQ(parseJournalSegment(frame, sink).problem, "malformed item in a frame");
  EXPECT_TRUE(sink.items.empty());
}

}  // namespace
}  // namespace kinesyslog::spool
