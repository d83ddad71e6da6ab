#include "spool/spool_directory.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <libdeflate.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "metrics/problem_log.h"
#include "util/startup_error.h"

namespace kinesyslog::spool {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::string gzip(std::string_view text) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  std::string out(libdeflate_gzip_compress_bound(c, text.size()), '\0');
  size_t n = libdeflate_gzip_compress(c, text.data(), text.size(), out.data(), out.size());
  libdeflate_free_compressor(c);
  out.resize(n);
  return out;
}

void writeFile(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string recordName(uint64_t sequence) {
  std::string digits = std::to_string(sequence);
  return "kinesyslog-" + std::string(20 - digits.size(), '0') + digits + ".gz";
}

std::set<std::string> namesIn(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// Everything logged through spdlog's default logger while it lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    sink->set_pattern("[%l] %v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> linesWith(std::string_view part) const {
    std::vector<std::string> lines;
    std::istringstream in(text_.str());
    for (std::string line; std::getline(in, line);) {
      if (line.find(part) != std::string::npos) lines.push_back(line);
    }
    return lines;
  }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> previous_;
};

// RLIMIT_FSIZE: writes past `bytes` fail with EFBIG, also for root (which file modes do not
// stop). SIGXFSZ, which the kernel sends with that error, is ignored meanwhile.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &previous_);
    previousHandler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = previous_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &previous_);
    ::signal(SIGXFSZ, previousHandler_);
  }

 private:
  rlimit previous_{};
  sighandler_t previousHandler_ = SIG_DFL;
};

class SpoolDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "spool-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ / "spool";
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(root_, fs::perms::owner_all, ec);
    fs::remove_all(root_, ec);
  }
  // Takes everything queued, in order, and returns the contents.
  static std::vector<std::string> drain(SpoolDirectory& spool) {
    std::vector<std::string> contents;
    for (const auto& r : spool.take(100000, UINT64_MAX, steady_clock::now())) {
      contents.push_back(spool.read(r).value_or("<unreadable>"));
      spool.remove(r);
    }
    return contents;
  }

  fs::path root_;
  fs::path dir_;
};

TEST_F(SpoolDirectoryTest, WriteReadRemoveTracksBytesAndFull) {
  const std::string a = gzip("first record");
  const std::string b = gzip("second record");
  SpoolDirectory spool(dir_, a.size() + b.size());
  EXPECT_TRUE(fs::is_directory(dir_));
  EXPECT_EQ(spool.recover().recovered, 0u);

  auto ra = spool.write(a);
  ASSERT_TRUE(ra);
  EXPECT_EQ(ra->path, dir_ / recordName(ra->sequence));
  EXPECT_EQ(readFile(ra->path), a);
  EXPECT_EQ(spool.bytes(), a.size());
  EXPECT_FALSE(spool.full());
  auto rb = spool.write(b);
  ASSERT_TRUE(rb);
  EXPECT_GT(rb->sequence, ra->sequence);
  EXPECT_EQ(spool.bytes(), a.size() + b.size());
  EXPECT_EQ(spool.pendingCount(), 2u);
  EXPECT_TRUE(spool.full());
  // Only finished names are visible: no temporary file is left behind.
  EXPECT_EQ(namesIn(dir_),
            (std::set<std::string>{recordName(ra->sequence), recordName(rb->sequence)}));

  auto taken = spool.take(1, UINT64_MAX, steady_clock::now());
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(spool.read(taken[0]), a);
  EXPECT_EQ(spool.pendingCount(), 1u);
  EXPECT_EQ(spool.bytes(), a.size() + b.size());  // taken records still count until removed
  spool.remove(taken[0]);
  EXPECT_FALSE(fs::exists(ra->path));
  EXPECT_EQ(spool.bytes(), b.size());
  EXPECT_FALSE(spool.full());
  EXPECT_EQ(drain(spool), std::vector<std::string>{b});
  EXPECT_EQ(spool.bytes(), 0u);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(SpoolDirectoryTest, TakeHonoursLimitsAndRequeueKeepsOrder) {
  SpoolDirectory spool(dir_, UINT64_MAX);
  (void)spool.recover();  // what is queued is checked below
  std::vector<SpoolRecord> written;
  for (int i = 0; i < 5; ++i) written.push_back(*spool.write(std::string(100, char('a' + i))));

  auto two = spool.take(2, UINT64_MAX, steady_clock::now());
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].sequence, written[0].sequence);
  EXPECT_EQ(two[1].sequence, written[1].sequence);
  spool.requeue(two);
  EXPECT_EQ(spool.pendingCount(), 5u);

  auto byBytes = spool.take(10, 250, steady_clock::now());
  ASSERT_EQ(byBytes.size(), 2u);  // a third would make 300 > 250
  EXPECT_EQ(byBytes[0].sequence, written[0].sequence);
  // At least one record, even when it alone exceeds the byte limit.
  auto oversized = spool.take(10, 10, steady_clock::now());
  ASSERT_EQ(oversized.size(), 1u);
  EXPECT_EQ(oversized[0].sequence, written[2].sequence);
  spool.requeue(oversized);
  spool.requeue(byBytes);
  auto all = spool.take(10, UINT64_MAX, steady_clock::now());
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].sequence, written[i].sequence);
  EXPECT_EQ(spool.pendingBytes(), 0u);
}

TEST_F(SpoolDirectoryTest, TakeWaitsForDeadlineOrWriteOrWake) {
  SpoolDirectory spool(dir_, UINT64_MAX);
  (void)spool.recover();  // what is queued is checked below
  auto start = steady_clock::now();
  EXPECT_TRUE(spool.take(10, UINT64_MAX, start + milliseconds(50)).empty());
  EXPECT_GE(steady_clock::now() - start, milliseconds(50));

  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(20));
    ASSERT_TRUE(spool.write(gzip("late")));
  });
  start = steady_clock::now();
  auto taken = spool.take(10, UINT64_MAX, start + std::chrono::seconds(10));
  writer.join();
  EXPECT_EQ(taken.size(), 1u);
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(5));

  std::thread waker([&] {
    std::this_thread::sleep_for(milliseconds(20));
    spool.wake();
  });
  start = steady_clock::now();
  EXPECT_TRUE(spool.take(10, UINT64_MAX, start + std::chrono::seconds(10)).empty());
  waker.join();
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(5));

  // A wake that comes before the wait is not lost.
  spool.wake();
  start = steady_clock::now();
  EXPECT_FALSE(spool.waitFor(1, 1, start + std::chrono::seconds(10)));
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(SpoolDirectoryTest, CrashBetweenWriteAndRenameDiscardsTempAndRecoversInOrder) {
  std::vector<std::string> records;
  uint64_t last = 0;
  {
    SpoolDirectory spool(dir_, UINT64_MAX);
    (void)spool.recover();  // what is queued is checked below
    for (int i = 0; i < 3; ++i) {
      records.push_back(gzip("record " + std::to_string(i)));
      last = spool.write(records.back())->sequence;
    }
  }
  // The crash: the next record was half written under its temporary name.
  const std::string torn = gzip("record that was being written");
  const fs::path temp = dir_ / (".kinesyslog-tmp-" + std::to_string(last + 1) + "-4242");
  writeFile(temp, std::string_view(torn).substr(0, torn.size() / 2));

  SpoolDirectory spool(dir_, UINT64_MAX);
  RecoveryReport report = spool.recover();
  EXPECT_EQ(report.temporaryDiscarded, 1u);
  EXPECT_EQ(report.recovered, 3u);
  EXPECT_EQ(report.corrupt, 0u);
  uint64_t total = 0;
  for (const auto& r : records) total += r.size();
  EXPECT_EQ(report.recoveredBytes, total);
  EXPECT_EQ(spool.bytes(), total);
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(dir_ / "corrupt"));  // a torn write is not corruption

  // Recovered records come before anything written afterwards.
  ASSERT_TRUE(spool.write(gzip("new")));
  std::vector<std::string> expected = records;
  expected.push_back(gzip("new"));
  EXPECT_EQ(drain(spool), expected);
  EXPECT_EQ(spool.recover().recovered, 0u);  // only the first call recovers
}

TEST_F(SpoolDirectoryTest, RecordsWrittenBeforeRecoverStillQueueAfterRecoveredOnes) {
  { SpoolDirectory(dir_, UINT64_MAX).write(gzip("old")).value(); }
  SpoolDirectory spool(dir_, UINT64_MAX);
  ASSERT_TRUE(spool.write(gzip("new")));
  EXPECT_EQ(spool.recover().recovered, 1u);
  EXPECT_EQ(drain(spool), (std::vector<std::string>{gzip("old"), gzip("new")}));
}

TEST_F(SpoolDirectoryTest, StateNamesTheOldestRecordUntilItIsDelivered) {
  constexpr int64_t kSecond = 1'000'000;
  ManualClock clock(int64_t{1'700'000'000} * kSecond);
  // A record of an earlier run is as old as its file.
  {
    auto old = SpoolDirectory(dir_, UINT64_MAX).write(gzip("old")).value();
    const timespec times[2] = {{1'699'999'000, 0}, {1'699'999'000, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, old.path.c_str(), times, 0), 0);
  }
  SpoolDirectory spool(dir_, UINT64_MAX, clock);
  EXPECT_EQ(spool.state().records, 0u);
  EXPECT_FALSE(spool.state().oldestAgeMicros);
  (void)spool.recover();  // what is queued is checked below
  clock.advanceMicros(5 * kSecond);
  ASSERT_TRUE(spool.write(gzip("new")));
  auto state = spool.state();
  EXPECT_EQ(state.records, 2u);
  EXPECT_EQ(state.bytes, gzip("old").size() + gzip("new").size());
  EXPECT_EQ(state.oldestAgeMicros, 1005 * kSecond);

  // Taken records still count (they are not delivered yet); delivered ones do not.
  auto taken = spool.take(1, UINT64_MAX, steady_clock::now());
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(spool.state().records, 2u);
  spool.remove(taken[0]);
  clock.advanceMicros(2 * kSecond);
  state = spool.state();
  EXPECT_EQ(state.records, 1u);
  EXPECT_EQ(state.oldestAgeMicros, 2 * kSecond);  // the one written 2 s ago
  drain(spool);
  EXPECT_EQ(spool.state().records, 0u);
  EXPECT_FALSE(spool.state().oldestAgeMicros);
}

TEST_F(SpoolDirectoryTest, AgeFollowsTheMonotonicClockWhenTheWallClockSteps) {
  // A wall clock stepped forward a day must not make a record written seconds ago look a day
  // old (the readiness check would fail), nor one stepped back an hour hide its age.
  constexpr int64_t kSecond = 1'000'000;
  ManualClock clock(int64_t{1'700'000'000} * kSecond);
  SpoolDirectory spool(dir_, UINT64_MAX, clock);
  (void)spool.recover();  // what is queued is checked below
  ASSERT_TRUE(spool.write(gzip("a")));
  clock.advanceMicros(3 * kSecond);
  clock.setNowMicros(clock.nowMicros() + 86'400 * kSecond);
  EXPECT_EQ(spool.state().oldestAgeMicros, 3 * kSecond);
  clock.setNowMicros(clock.nowMicros() - 86'400 * kSecond - 3'600 * kSecond);
  clock.advanceMicros(4 * kSecond);
  EXPECT_EQ(spool.state().oldestAgeMicros, 7 * kSecond);
}

TEST_F(SpoolDirectoryTest, CorruptFinishedFilesAreMovedAndCounted) {
  const std::string good = gzip("a good record with enough text to compress");
  std::string badCrc = good;
  badCrc[badCrc.size() - 8] ^= 0x01;  // RFC 1952 §2.3.1: CRC32 precedes ISIZE in the trailer
  std::string badBody = good;
  badBody[12] ^= 0x55;
  const std::string truncated = good.substr(0, good.size() - 5);
  std::string trailing = good + "junk";
  std::string twoMembers = good + good;
  const std::map<uint64_t, std::string> files = {{1, good},       {2, badCrc},  {3, truncated},
                                                 {4, ""},         {5, badBody}, {6, trailing},
                                                 {7, twoMembers}, {8, good}};
  fs::create_directories(dir_);
  for (const auto& [seq, data] : files) writeFile(dir_ / recordName(seq), data);

  SpoolDirectory spool(dir_, UINT64_MAX);
  RecoveryReport report = spool.recover();
  EXPECT_EQ(report.recovered, 2u);
  EXPECT_EQ(report.corrupt, 6u);
  EXPECT_EQ(report.recoveredBytes, 2 * good.size());
  EXPECT_EQ(spool.bytes(), 2 * good.size());
  for (uint64_t seq : {2, 3, 4, 5, 6, 7}) {
    EXPECT_FALSE(fs::exists(dir_ / recordName(seq))) << seq;
    // Never deleted: the bytes are kept as they were for a human to look at.
    EXPECT_EQ(readFile(dir_ / "corrupt" / recordName(seq)), files.at(seq)) << seq;
  }
  EXPECT_EQ(drain(spool), (std::vector<std::string>{good, good}));
}

TEST_F(SpoolDirectoryTest, CorruptNamesNeverOverwriteEarlierOnes) {
  fs::create_directories(dir_ / "corrupt");
  writeFile(dir_ / "corrupt" / recordName(1), "from an earlier run");
  writeFile(dir_ / recordName(1), "not gzip at all, but long enough");
  SpoolDirectory spool(dir_, UINT64_MAX);
  EXPECT_EQ(spool.recover().corrupt, 1u);
  EXPECT_EQ(readFile(dir_ / "corrupt" / recordName(1)), "from an earlier run");
  EXPECT_EQ(readFile(dir_ / "corrupt" / (recordName(1) + ".1")),
            "not gzip at all, but long enough");
}

TEST_F(SpoolDirectoryTest, MoveToCorruptKeepsTheFileAndReleasesBytes) {
  SpoolDirectory spool(dir_, UINT64_MAX);
  (void)spool.recover();  // what is queued is checked below
  auto r = spool.write(gzip("x"));
  ASSERT_TRUE(r);
  auto taken = spool.take(1, UINT64_MAX, steady_clock::now());
  spool.moveToCorrupt(taken.at(0), "test");
  EXPECT_EQ(spool.bytes(), 0u);
  EXPECT_EQ(readFile(dir_ / "corrupt" / r->path.filename()), gzip("x"));
}

TEST_F(SpoolDirectoryTest, ReadRefusesAFileWhoseSizeChanged) {
  SpoolDirectory spool(dir_, UINT64_MAX);
  auto r = spool.write(gzip("x"));
  ASSERT_TRUE(r);
  writeFile(r->path, "short");
  EXPECT_FALSE(spool.read(*r));
  fs::remove(r->path);
  EXPECT_FALSE(spool.read(*r));
}

TEST_F(SpoolDirectoryTest, SequenceContinuesAfterRecovery) {
  uint64_t last = 0;
  {
    SpoolDirectory spool(dir_, UINT64_MAX);
    (void)spool.recover();  // what is queued is checked below
    spool.write(gzip("1")).value();
    last = spool.write(gzip("2")).value().sequence;
  }
  {
    SpoolDirectory spool(dir_, UINT64_MAX);
    EXPECT_EQ(spool.recover().recovered, 2u);
    EXPECT_EQ(spool.write(gzip("3")).value().sequence, last + 1);
  }
  // A leftover temporary name with a higher sequence is skipped too, so names never collide.
  writeFile(dir_ / (".kinesyslog-tmp-" + std::to_string(last + 10) + "-1"), "torn");
  SpoolDirectory spool(dir_, UINT64_MAX);
  (void)spool.recover();  // what is queued is checked below
  EXPECT_EQ(spool.write(gzip("4")).value().sequence, last + 11);
  EXPECT_EQ(drain(spool), (std::vector<std::string>{gzip("1"), gzip("2"), gzip("3"), gzip("4")}));
}

TEST_F(SpoolDirectoryTest, UnrelatedFilesAreNeverTouched) {
  fs::create_directories(dir_ / "kinesyslog-00000000000000000009.gz");  // a directory
  const std::vector<std::string> unrelated = {"foo.gz",
                                              "kinesyslog-1.gz",
                                              "kinesyslog-0000000000000000000x.gz",
                                              "kinesyslog-00000000000000000001.gz.bak",
                                              ".kinesyslog-tmpx",
                                              ".kinesyslog-tmp-1-",
                                              ".kinesyslog-tmp--1",
                                              "systemd-private-abc",
                                              ".X11-unix"};
  for (const auto& name : unrelated) writeFile(dir_ / name, "not ours");
  fs::create_symlink("/etc/passwd", dir_ / recordName(5));  // planted under our name

  SpoolDirectory spool(dir_, UINT64_MAX);
  RecoveryReport report = spool.recover();
  EXPECT_EQ(report.recovered + report.corrupt + report.temporaryDiscarded, 0u);
  for (const auto& name : unrelated) EXPECT_EQ(readFile(dir_ / name), "not ours") << name;
  EXPECT_TRUE(fs::is_symlink(dir_ / recordName(5)));
  EXPECT_TRUE(fs::is_directory(dir_ / "kinesyslog-00000000000000000009.gz"));
  EXPECT_EQ(spool.pendingCount(), 0u);
  ASSERT_TRUE(spool.write(gzip("mine")));
  EXPECT_EQ(drain(spool), std::vector<std::string>{gzip("mine")});
}

// A failing disk fails every record; each failure is counted, but the log gets one line per
// 10 s (the problem log), naming the OS error, not one line per record.
TEST_F(SpoolDirectoryTest, FailingWritesAreLoggedOncePerIntervalWithTheOsError) {
  SpoolDirectory spool(dir_, UINT64_MAX);
  const auto kind = metrics::Problem::kSpoolWriteFailed;
  const uint64_t reportedBefore = metrics::problems().reported(kind);
  CapturedLog log;
  {
    FileSizeLimit limit(8);
    for (int i = 0; i < 50; ++i) {
      EXPECT_FALSE(spool.write(gzip("a record longer than eight bytes " + std::to_string(i))));
    }
  }
  EXPECT_EQ(metrics::problems().reported(kind) - reportedBefore, 50u);
  const auto lines = log.linesWith("cannot write");
  ASSERT_EQ(lines.size(), 1u) << (lines.empty() ? "" : lines.front());
  EXPECT_NE(lines[0].find("spool write failed"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("File too large"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(dir_.string()), std::string::npos) << lines[0];
  // Nothing was queued and no temporary file is left behind.
  EXPECT_EQ(spool.pendingCount(), 0u);
  EXPECT_EQ(spool.bytes(), 0u);
  for (const auto& name : namesIn(dir_)) EXPECT_FALSE(name.starts_with(".kinesyslog-tmp-")) << name;
  // The disk recovers: the next write succeeds.
  EXPECT_TRUE(spool.write(gzip("after")));
}

// Thousands of symlinks planted under spool names (a shared /tmp) give one summary line with
// the count and the first few names, not one line each.
TEST_F(SpoolDirectoryTest, PlantedEntriesAreSummarisedInOneLine) {
  constexpr int kSymlinks = 3200;
  fs::create_directories(dir_);
  for (int i = 1; i <= kSymlinks; ++i) {
    fs::create_symlink(i % 2 ? "/etc/passwd" : "/nonexistent", dir_ / recordName(i));
  }
  int othersFiles = 0;
  if (::geteuid() == 0) {  // files of another user can only be made by root
    for (const auto& name :
         {recordName(5000), recordName(5001), std::string(".kinesyslog-tmp-7-1")}) {
      writeFile(dir_ / name, gzip("someone else's"));
      ASSERT_EQ(::chown((dir_ / name).c_str(), 65534, 65534), 0);
      ++othersFiles;
    }
  }
  const int planted = kSymlinks + othersFiles;
  CapturedLog log;
  SpoolDirectory spool(dir_, UINT64_MAX);
  const RecoveryReport report = spool.recover();
  EXPECT_EQ(report.recovered + report.corrupt + report.temporaryDiscarded, 0u);
  const auto lines = log.linesWith("ignoring");
  ASSERT_EQ(lines.size(), 1u) << (lines.empty() ? "" : lines.front());
  EXPECT_NE(lines[0].find("ignoring " + std::to_string(planted) + " entries"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find(" and " + std::to_string(planted - 5) + " more"), std::string::npos)
      << lines[0];
  size_t named = 0;
  for (size_t at = lines[0].find("kinesyslog-"); at != std::string::npos;
       at = lines[0].find("kinesyslog-", at + 1)) {
    ++named;
  }
  EXPECT_EQ(named, 5u) << lines[0];
  EXPECT_EQ(namesIn(dir_).size(), static_cast<size_t>(planted));  // nothing touched
}

TEST_F(SpoolDirectoryTest, UnwritableDirectoryIsExit77NamingThePath) {
  // Under a regular file nothing can be created, even by root.
  writeFile(root_ / "file", "x");
  const fs::path underFile = root_ / "file" / "spool";
  try {
    SpoolDirectory spool(underFile, UINT64_MAX);
    FAIL() << "no exception";
  } catch (const StartupError& e) {
    EXPECT_EQ(e.exitCode(), kExitNoPermission);
    EXPECT_NE(std::string(e.what()).find(underFile.string()), std::string::npos) << e.what();
  }
  // A directory of mode 0500. Root ignores the mode, so as root the attempt runs in a child
  // process that drops to an unprivileged user first.
  fs::create_directories(dir_);
  fs::permissions(root_, fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                            fs::perms::others_exec);
  const bool root = ::geteuid() == 0;
  pid_t child = root ? ::fork() : 0;
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 0;
    if (root && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(1);
    try {
      SpoolDirectory spool(dir_, UINT64_MAX);
    } catch (const StartupError& e) {
      const std::string what = e.what();
      // One line naming the path and the OS error; 99 tells the parent it was not.
      const bool named = what.find(dir_.string()) != std::string::npos &&
                         what.find("ermission denied") != std::string::npos;
      code = named ? e.exitCode() : 99;
    }
    if (root) ::_exit(code);
    EXPECT_EQ(code, kExitNoPermission);
    return;
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), kExitNoPermission);
}

TEST_F(SpoolDirectoryTest, SecondSpoolOnTheSameDirectoryIsRefused) {
  SpoolDirectory first(dir_, UINT64_MAX);
  try {
    SpoolDirectory second(dir_, UINT64_MAX);
    FAIL() << "no exception";
  } catch (const StartupError& e) {
    EXPECT_EQ(e.exitCode(), kExitConfig);
  }
}

TEST_F(SpoolDirectoryTest, ConcurrentWritersLoseAndDuplicateNothing) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  SpoolDirectory spool(dir_, UINT64_MAX);
  (void)spool.recover();  // what is queued is checked below
  std::vector<std::vector<uint64_t>> sequences(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = spool.write(gzip(std::to_string(t) + ":" + std::to_string(i)));
        ASSERT_TRUE(r);
        sequences[t].push_back(r->sequence);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> unique;
  for (const auto& s : sequences) unique.insert(s.begin(), s.end());
  EXPECT_EQ(unique.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(spool.pendingCount(), size_t{kThreads * kPerThread});
  EXPECT_EQ(namesIn(dir_).size(), size_t{kThreads * kPerThread});
  std::set<std::string> contents;
  for (const auto& c : drain(spool)) contents.insert(c);
  EXPECT_EQ(contents.size(), size_t{kThreads * kPerThread});
  EXPECT_TRUE(contents.count(gzip("3:99")));
}

}  // namespace
}  // namespace kinesyslog::spool
