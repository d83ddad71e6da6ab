#include "spool/message_journal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "spool/journal_format.h"

namespace kinesyslog::spool {
namespace {

namespace fs = std::filesystem;

class MessageJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kinesyslog-journal-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::set<uint64_t> segmentsOnDisk() const {
    std::set<uint64_t> found;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      auto name = parseJournalSegmentName(entry.path().filename().string());
      EXPECT_TRUE(name.has_value()) << entry.path();
      if (name) found.insert(name->segment);
    }
    return found;
  }

  std::string read(uint64_t segment) const {
    std::ifstream in(dir_ / journalSegmentName(kRun, 3, segment), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  static constexpr const char* kRun = "00000000000000ab";
  fs::path dir_;
};

class CountingSink final : public JournalItemSink {
 public:
  void onBatchOpened(uint64_t, std::string_view, std::string_view) override { ++opened; }
  void onEvent(uint64_t, int64_t, std::string_view message) override {
    messages.emplace_back(message);
  }
  void onSpooled(uint64_t serial, uint32_t end) override { spooled.emplace_back(serial, end); }
  int opened = 0;
  std::vector<std::string> messages;
  std::vector<std::pair<uint64_t, uint32_t>> spooled;
};

TEST(JournalSegmentName, RoundTrip) {
  const std::string name = journalSegmentName("0123456789abcdef", 12, 345);
  EXPECT_EQ(name, "kinesyslog-journal-0123456789abcdef-012-0000000345");
  auto parsed = parseJournalSegmentName(name);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->run, "0123456789abcdef");
  EXPECT_EQ(parsed->worker, 12u);
  EXPECT_EQ(parsed->segment, 345u);
  EXPECT_FALSE(parseJournalSegmentName("kinesyslog-journal-0123456789ABCDEF-012-0000000345"));
  EXPECT_FALSE(parseJournalSegmentName("kinesyslog-journal-0123456789abcdef-012-000000034"));
  EXPECT_FALSE(parseJournalSegmentName("kinesyslog-journal-0123456789abcdef_012-0000000345"));
  EXPECT_FALSE(parseJournalSegmentName("kinesyslog-00000000000000000001.gz"));
  EXPECT_EQ(newJournalRun().size(), 16u);
}

TEST_F(MessageJournalTest, OneFramePerCommitHoldsTheReadsMessages) {
  MessageJournal journal(dir_, kRun, 3, 1 << 20, false);
  auto a = journal.openBatch("syslog_message", "192.0.2.1");
  journal.appendEvent(a.serial, 1, "one");
  journal.appendEvent(a.serial, 2, "two");
  EXPECT_EQ(read(0), "") << "nothing is written before commit";
  journal.commit();
  journal.commit();  // nothing new: no empty frame
  CountingSink sink;
  const std::string data = read(0);
  const JournalParseResult parsed = parseJournalSegment(data, sink);
  EXPECT_EQ(parsed.frames, 1u);
  EXPECT_EQ(sink.opened, 1);
  EXPECT_EQ(sink.messages, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(a.serial >> 48, 3u) << "serials carry the worker index";
  journal.spooled(a, 2);
  sink = CountingSink{};
  const std::string marked = read(0);
  EXPECT_EQ(parseJournalSegment(marked, sink).frames, 2u);
  EXPECT_EQ(sink.spooled, (std::vector<std::pair<uint64_t, uint32_t>>{{a.serial, 2}}));
}

// A segment goes only when it is not the current one and no batch that opened in it, or in an
// earlier one, is still unspooled.
TEST_F(MessageJournalTest, SegmentsGoOldestFirstOnceTheirBatchesAreSpooled) {
  MessageJournal journal(dir_, kRun, 3, 64, false);  // every commit of 64+ bytes rotates
  const std::string text(80, 'x');
  auto a = journal.openBatch("g", "a");  // opens in segment 0
  journal.appendEvent(a.serial, 1, text);
  journal.commit();  // now in segment 1
  auto b = journal.openBatch("g", "b");
  journal.appendEvent(b.serial, 1, text);
  journal.commit();  // now in segment 2
  auto c = journal.openBatch("g", "c");
  journal.appendEvent(c.serial, 1, text);
  journal.commit();  // now in segment 3
  EXPECT_EQ(segmentsOnDisk(), (std::set<uint64_t>{0, 1, 2, 3}));
  EXPECT_EQ(a.segment, 0u);
  EXPECT_EQ(b.segment, 1u);
  EXPECT_EQ(c.segment, 2u);

  journal.release(b);  // a still holds segment 0 and everything after it
  EXPECT_EQ(segmentsOnDisk(), (std::set<uint64_t>{0, 1, 2, 3}));
  journal.release(a);  // 0 and 1 go; c holds 2
  EXPECT_EQ(segmentsOnDisk(), (std::set<uint64_t>{2, 3}));
  journal.release(c);  // the current segment stays
  EXPECT_EQ(segmentsOnDisk(), (std::set<uint64_t>{3}));
  EXPECT_EQ(journal.segmentsOnDisk(), 1u);
}

TEST_F(MessageJournalTest, FinishRemovesEverythingOnlyWhenAllIsSpooled) {
  MessageJournal journal(dir_, kRun, 3, 1 << 20, false);
  auto a = journal.openBatch("g", "a");
  journal.appendEvent(a.serial, 1, "m");
  journal.commit();
  EXPECT_EQ(journal.finish(), 1u) << "one batch unspooled: its messages stay for the replay";
  EXPECT_EQ(segmentsOnDisk(), (std::set<uint64_t>{0}));
  journal.release(a);
  EXPECT_EQ(journal.finish(), 0u);
  EXPECT_TRUE(segmentsOnDisk().empty());
  journal.sync();  // harmless after finish
}

TEST_F(MessageJournalTest, SyncReachesEverySegmentWritten) {
  MessageJournal journal(dir_, kRun, 3, 16, false);
  auto a = journal.openBatch("g", "a");
  journal.appendEvent(a.serial, 1, "0123456789abcdef");
  journal.commit();
  journal.appendEvent(a.serial, 2, "0123456789abcdef");
  journal.commit();
  journal.sync();  // must not block or fail on rotated segments
  EXPECT_EQ(segmentsOnDisk(), (std::set<uint64_t>{0, 1, 2}));
}

}  // namespace
}  // namespace kinesyslog::spool
