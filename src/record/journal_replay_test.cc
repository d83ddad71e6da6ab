#include "record/journal_replay.h"

#include <gtest/gtest.h>
#include <libdeflate.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <regex>

#include "spool/message_journal.h"
#include "spool/spool_directory.h"

namespace kinesyslog::record {
namespace {

namespace fs = std::filesystem;

class JournalReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kinesyslog-replay-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Every message in the spool, in record order, with its logStream.
  std::vector<std::string> spooledMessages(spool::SpoolDirectory& spool) {
    std::vector<std::string> out;
    const auto deadline = std::chrono::steady_clock::now();
    for (const auto& record : spool.take(100000, ~0ull, deadline)) {
      const auto data = spool.read(record);
      EXPECT_TRUE(data.has_value());
      std::string json(data->size() * 50 + 1024, '\0');
      size_t n = 0;
      libdeflate_decompressor* d = libdeflate_alloc_decompressor();
      EXPECT_EQ(
          libdeflate_gzip_decompress(d, data->data(), data->size(), json.data(), json.size(), &n),
          LIBDEFLATE_SUCCESS);
      libdeflate_free_decompressor(d);
      json.resize(n);
      std::smatch stream;
      EXPECT_TRUE(std::regex_search(json, stream, std::regex(R"re("logStream":"([^"]*)")re")));
      const std::regex message(R"re("message":"([^"]*)")re");
      for (auto it = std::sregex_iterator(json.begin(), json.end(), message);
           it != std::sregex_iterator(); ++it) {
        out.push_back(stream[1].str() + " " + (*it)[1].str());
      }
    }
    return out;
  }

  size_t journalFiles() const {
    size_t n = 0;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      n += spool::parseJournalSegmentName(entry.path().filename().string()).has_value();
    }
    return n;
  }

  fs::path dir_;
};

// A relay that died: two batches journaled, the first partly spooled (its first two messages)
// before the death. The replay writes exactly the messages that were not spooled yet.
void writeDeadRun(const fs::path& dir, const char* run) {
  spool::MessageJournal journal(dir, run, 0, 1 << 20, false);
  auto a = journal.openBatch("syslog_message", "192.0.2.1");
  for (int i = 0; i < 3; ++i) journal.appendEvent(a.serial, 1000 + i, "a" + std::to_string(i));
  auto b = journal.openBatch("syslog_message", "192.0.2.2");
  journal.appendEvent(b.serial, 2000, "b0");
  journal.commit();
  journal.appendEvent(b.serial, 2001, "b1");
  journal.commit();
  journal.spooled(a, 2);
  // No finish(): the process died here.
}

TEST_F(JournalReplayTest, ReplaysWhatWasNotSpooledExactlyOnce) {
  writeDeadRun(dir_, "0000000000000001");
  spool::SpoolDirectory spool(dir_, 1 << 30);
  const JournalReplayReport report = replayJournal(dir_, spool, "123456789012", 6);
  EXPECT_EQ(report.runs, 1u);
  EXPECT_EQ(report.segments, 1u);
  EXPECT_EQ(report.messages, 3u);
  EXPECT_EQ(report.alreadySpooled, 2u);
  EXPECT_EQ(report.corruptSegments, 0u);
  EXPECT_FALSE(report.incomplete);
  EXPECT_EQ(spooledMessages(spool),
            (std::vector<std::string>{"192.0.2.1 a2", "192.0.2.2 b0", "192.0.2.2 b1"}));
  EXPECT_EQ(journalFiles(), 0u) << "a replayed run's segments are deleted";
  // Nothing left: a second start replays nothing.
  const JournalReplayReport again = replayJournal(dir_, spool, "123456789012", 6);
  EXPECT_EQ(again.runs, 0u);
  EXPECT_EQ(again.messages, 0u);
}

// The replay marks what it spools, so a relay that dies during the replay (here: right before
// the replayed segments are deleted) repeats nothing at its next start.
TEST_F(JournalReplayTest, ACrashDuringTheReplayRepeatsNothing) {
  writeDeadRun(dir_, "0000000000000001");
  spool::SpoolDirectory spool(dir_, 1 << 30);
  const JournalReplayReport first =
      replayJournal(dir_, spool, "o", 1, /*removeReplayedSegments=*/false);
  EXPECT_EQ(first.messages, 3u);
  EXPECT_EQ(journalFiles(), 1u);
  const JournalReplayReport second = replayJournal(dir_, spool, "o", 1);
  EXPECT_EQ(second.messages, 0u);
  EXPECT_EQ(second.alreadySpooled, 5u);
  EXPECT_EQ(spooledMessages(spool).size(), 3u) << "each message spooled once";
  EXPECT_EQ(journalFiles(), 0u);
}

TEST_F(JournalReplayTest, ATornTailLosesOnlyTheTornWrite) {
  {
    spool::MessageJournal journal(dir_, "0000000000000002", 1, 1 << 20, false);
    auto a = journal.openBatch("g", "h");
    journal.appendEvent(a.serial, 1, "whole");
    journal.commit();
    journal.appendEvent(a.serial, 2, "torn");
    journal.commit();
  }
  const fs::path segment = dir_ / spool::journalSegmentName("0000000000000002", 1, 0);
  fs::resize_file(segment, fs::file_size(segment) - 3);
  spool::SpoolDirectory spool(dir_, 1 << 30);
  const JournalReplayReport report = replayJournal(dir_, spool, "o", 1);
  EXPECT_EQ(report.corruptSegments, 1u);
  EXPECT_EQ(report.messages, 1u);
  EXPECT_EQ(spooledMessages(spool), (std::vector<std::string>{"h whole"}));
}

TEST_F(JournalReplayTest, RunsOfSeveralWorkersAndSegmentsKeepMessageOrder) {
  {
    spool::MessageJournal w0(dir_, "0000000000000003", 0, 32, false);
    spool::MessageJournal w1(dir_, "0000000000000003", 1, 32, false);
    auto a = w0.openBatch("g", "a");
    auto b = w1.openBatch("g", "b");
    for (int i = 0; i < 5; ++i) {
      w0.appendEvent(a.serial, i, "a" + std::to_string(i) + std::string(40, '.'));
      w0.commit();  // every commit rotates: the batch spans five segments
      w1.appendEvent(b.serial, i, "b" + std::to_string(i));
      w1.commit();
    }
  }
  EXPECT_GT(journalFiles(), 6u);
  spool::SpoolDirectory spool(dir_, 1 << 30);
  const JournalReplayReport report = replayJournal(dir_, spool, "o", 1);
  EXPECT_EQ(report.messages, 10u);
  std::vector<std::string> want;
  for (int i = 0; i < 5; ++i) want.push_back("a a" + std::to_string(i) + std::string(40, '.'));
  for (int i = 0; i < 5; ++i) want.push_back("b b" + std::to_string(i));
  EXPECT_EQ(spooledMessages(spool), want);
  EXPECT_EQ(journalFiles(), 0u);
}

TEST_F(JournalReplayTest, PlantedNamesAreNotReplayed) {
  const fs::path target = dir_ / "elsewhere";
  {
    spool::MessageJournal journal(dir_ / ".." / dir_.filename(), "0000000000000004", 0, 1 << 20,
                                  false);
    auto a = journal.openBatch("g", "h");
    journal.appendEvent(a.serial, 1, "secret");
    journal.commit();
  }
  const fs::path real = dir_ / spool::journalSegmentName("0000000000000004", 0, 0);
  fs::rename(real, target);
  fs::create_symlink(target, real);
  spool::SpoolDirectory spool(dir_, 1 << 30);
  const JournalReplayReport report = replayJournal(dir_, spool, "o", 1);
  EXPECT_EQ(report.ignoredFiles, 1u);
  EXPECT_EQ(report.messages, 0u);
  EXPECT_TRUE(spooledMessages(spool).empty());
}

}  // namespace
}  // namespace kinesyslog::record
