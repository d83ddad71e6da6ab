#include "deliver/uploader.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "metrics/delivery_metrics.h"

namespace kinesyslog::deliver {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A target that records what it accepted; `decide` chooses per call which records to accept.
class FakeTarget : public DeliveryTarget {
 public:
  // Called with the 0-based call number and the records; returns the accepted flags.
  using Decide = std::function<std::vector<bool>(int call, const std::vector<std::string>&)>;
  explicit FakeTarget(Decide decide = nullptr) : decide_(std::move(decide)) {}

  PutResult put(std::span<const std::string> span) override {
    const std::vector<std::string> records(span.begin(), span.end());
    std::lock_guard lock(mutex_);
    EXPECT_FALSE(records.empty());
    EXPECT_LE(records.size(), maxRecords ? maxRecords : records.size());
    const int call = calls_++;
    callTimes_.push_back(steady_clock::now());
    if (onCall) onCall(call);
    PutResult result;
    result.accepted = decide_ ? decide_(call, records) : std::vector<bool>(records.size(), true);
    ++inFlight_;
    maxInFlight_ = std::max(maxInFlight_, inFlight_);
    if (callDelay.count() > 0) {
      // Other lanes may call meanwhile: the lock is given up while "on the wire".
      mutex_.unlock();
      std::this_thread::sleep_for(callDelay);
      mutex_.lock();
    }
    --inFlight_;
    for (size_t i = 0; i < records.size() && i < result.accepted.size(); ++i) {
      if (result.accepted[i]) {
        ++delivered_[records[i]];
      } else {
        result.error = "rejected by the fake";
        if (throttles) ++result.throttledRecords;
      }
    }
    batchSizes_.push_back(records.size());
    return result;
  }
  std::string describe() const override { return "fake target"; }

  std::map<std::string, int> delivered() const {
    std::lock_guard lock(mutex_);
    return delivered_;
  }
  int calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<steady_clock::time_point> callTimes() const {
    std::lock_guard lock(mutex_);
    return callTimes_;
  }
  std::vector<size_t> batchSizes() const {
    std::lock_guard lock(mutex_);
    return batchSizes_;
  }

  int maxInFlight() const {
    std::lock_guard lock(mutex_);
    return maxInFlight_;
  }

  std::function<void(int call)> onCall;  // runs inside put(), on the uploader's thread
  size_t maxRecords = 0;                 // when set, no call may carry more
  bool throttles = false;                // rejected records are refused for the quota
  milliseconds callDelay{0};             // how long a call takes (a round trip)

 private:
  mutable std::mutex mutex_;
  Decide decide_;
  int calls_ = 0;
  int inFlight_ = 0;
  int maxInFlight_ = 0;
  std::map<std::string, int> delivered_;
  std::vector<steady_clock::time_point> callTimes_;
  std::vector<size_t> batchSizes_;
};

std::vector<bool> allFail(int, const std::vector<std::string>& r) {
  return std::vector<bool>(r.size(), false);
}

class UploaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "uploader-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    spool_ = std::make_unique<spool::SpoolDirectory>(dir_, UINT64_MAX);
    (void)spool_->recover();  // an empty spool: nothing to report
  }
  void TearDown() override {
    spool_.reset();
    fs::remove_all(dir_);
  }

  // Spool files need not be gzip for the uploader; distinct text makes delivery checkable.
  std::vector<std::string> spoolRecords(int count, const std::string& prefix = "record-") {
    std::vector<std::string> written;
    for (int i = 0; i < count; ++i) {
      written.push_back(prefix + std::to_string(i));
      EXPECT_TRUE(spool_->write(written.back()));
    }
    return written;
  }
  size_t filesInSpool() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) n += e.is_regular_file();
    return n;
  }
  static void expectEachOnce(const FakeTarget& target, const std::vector<std::string>& written) {
    auto delivered = target.delivered();
    EXPECT_EQ(delivered.size(), written.size());
    for (const auto& record : written) EXPECT_EQ(delivered[record], 1) << record;
  }
  static UploaderOptions fastOptions() {
    UploaderOptions options;
    options.coalesce = milliseconds(5);
    options.backoffBase = milliseconds(2);
    options.backoffCap = milliseconds(20);
    options.seed = 1;
    return options;
  }

  fs::path dir_;
  std::unique_ptr<spool::SpoolDirectory> spool_;
};

TEST_F(UploaderTest, DeliversEveryRecordExactlyOnceInBatchesWithinLimits) {
  FakeTarget target;
  target.maxRecords = 500;
  auto written = spoolRecords(1203);
  Uploader uploader(*spool_, target, fastOptions());
  uploader.start();
  auto more = spoolRecords(7, "later-");  // spooled while the uploader runs
  written.insert(written.end(), more.begin(), more.end());
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(30)));
  expectEachOnce(target, written);
  EXPECT_EQ(spool_->bytes(), 0u);
  EXPECT_EQ(filesInSpool(), 0u);
  for (size_t size : target.batchSizes()) EXPECT_LE(size, 500u);
  EXPECT_GE(target.batchSizes().size(), 3u);
  EXPECT_EQ(uploader.counters().recordsDelivered, written.size());
  EXPECT_EQ(uploader.counters().batches, target.batchSizes().size());
  EXPECT_EQ(uploader.counters().recordFailures, 0u);
}

TEST_F(UploaderTest, ByteLimitSplitsBatches) {
  FakeTarget target;
  auto options = fastOptions();
  options.maxBytes = 100;
  std::vector<std::string> written;
  for (int i = 0; i < 10; ++i) {
    written.push_back(std::string(40, char('a' + i)));
    ASSERT_TRUE(spool_->write(written.back()));
  }
  Uploader uploader(*spool_, target, options);
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(30)));
  expectEachOnce(target, written);
  for (size_t size : target.batchSizes()) EXPECT_LE(size, 2u);  // 2 x 40 <= 100 < 3 x 40
}

TEST_F(UploaderTest, StartsDeliveringAsSoonAsARecordIsSpooled) {
  FakeTarget target;
  Uploader uploader(*spool_, target, fastOptions());
  uploader.start();
  std::this_thread::sleep_for(milliseconds(50));
  const auto spooled = steady_clock::now();
  spoolRecords(1);
  while (target.calls() == 0 && steady_clock::now() - spooled < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_EQ(target.calls(), 1);
  // A 5 ms coalescing delay, not the 1 s idle wait.
  EXPECT_LT(target.callTimes()[0] - spooled, milliseconds(500));
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(5)));
}

TEST_F(UploaderTest, FailedRequestsAreRetriedWithGrowingBackoffThatResets) {
  // The first 4 calls fail as a whole; the attempt count seen at each call grows, then resets.
  std::vector<uint64_t> attemptsSeen;
  Uploader* uploaderPtr = nullptr;
  FakeTarget target([](int call, const std::vector<std::string>& r) {
    return std::vector<bool>(r.size(), call >= 4);
  });
  target.onCall = [&](int) { attemptsSeen.push_back(uploaderPtr->counters().consecutiveFailures); };
  auto written = spoolRecords(10);
  Uploader uploader(*spool_, target, fastOptions());
  uploaderPtr = &uploader;
  uploader.start();
  while (target.calls() < 5) std::this_thread::sleep_for(milliseconds(1));
  auto more = spoolRecords(3, "after-recovery-");
  written.insert(written.end(), more.begin(), more.end());
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(30)));
  expectEachOnce(target, written);
  ASSERT_GE(attemptsSeen.size(), 6u);
  EXPECT_EQ(std::vector<uint64_t>(attemptsSeen.begin(), attemptsSeen.begin() + 6),
            (std::vector<uint64_t>{0, 1, 2, 3, 4, 0}));
  EXPECT_EQ(uploader.counters().requestFailures, 4u);
  EXPECT_EQ(uploader.counters().recordFailures, 40u);
  EXPECT_EQ(uploader.counters().consecutiveFailures, 0u);
  EXPECT_EQ(filesInSpool(), 0u);
}

TEST_F(UploaderTest, RecordsWhenDeliveryStartedFailingAndWhenItRecovered) {
  // Calls 0-2 deliver nothing, call 3 delivers one record of its batch, the rest everything.
  std::vector<int64_t> failingSinceSeen;
  Uploader* uploaderPtr = nullptr;
  FakeTarget target([](int call, const std::vector<std::string>& r) {
    std::vector<bool> accepted(r.size(), call >= 4);
    if (call == 3) accepted[0] = true;
    return accepted;
  });
  target.onCall = [&](int) {
    failingSinceSeen.push_back(uploaderPtr->counters().failingSinceMicros);
  };
  auto& metrics = metrics::deliveryMetrics();
  const uint64_t requestsBefore = metrics.uploadMicros.snapshot().cumulative.back();
  const uint64_t retriesBefore = metrics.retries.load();
  const uint64_t recordsBefore = metrics.recordBytes.snapshot().cumulative.back();
  auto written = spoolRecords(4);
  Uploader uploader(*spool_, target, fastOptions());
  uploaderPtr = &uploader;
  uploader.start();
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(30)));
  expectEachOnce(target, written);
  ASSERT_GE(failingSinceSeen.size(), 5u);
  EXPECT_EQ(failingSinceSeen[0], 0);
  EXPECT_NE(failingSinceSeen[1], 0);  // set by the first failure, kept while nothing gets through
  EXPECT_EQ(failingSinceSeen[2], failingSinceSeen[1]);
  EXPECT_EQ(failingSinceSeen[3], failingSinceSeen[1]);
  EXPECT_EQ(failingSinceSeen[4], 0);  // one record through ends the run of failures
  EXPECT_EQ(uploader.counters().failingSinceMicros, 0);
  // Each request is timed and counted; the requests after a failure are retries.
  const auto calls = static_cast<uint64_t>(target.calls());
  EXPECT_EQ(metrics.uploadMicros.snapshot().cumulative.back() - requestsBefore, calls);
  EXPECT_EQ(metrics.retries.load() - retriesBefore, 4u);
  uint64_t recordsSent = 0;
  for (size_t n : target.batchSizes()) recordsSent += n;
  EXPECT_EQ(metrics.recordBytes.snapshot().cumulative.back() - recordsBefore, recordsSent);
}

TEST_F(UploaderTest, BackoffIsCapped) {
  // 12 failed calls with a 10 ms base and a 40 ms cap: uncapped the later pauses could reach
  // 20 s; capped, no gap between calls can be much over 40 ms.
  FakeTarget target([](int call, const std::vector<std::string>& r) {
    return std::vector<bool>(r.size(), call >= 12);
  });
  auto written = spoolRecords(3);
  auto options = fastOptions();
  options.coalesce = milliseconds(0);
  options.backoffBase = milliseconds(10);
  options.backoffCap = milliseconds(40);
  Uploader uploader(*spool_, target, options);
  const auto start = steady_clock::now();
  uploader.start();
  while (target.calls() < 13 && steady_clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(5)));
  expectEachOnce(target, written);
  auto times = target.callTimes();
  ASSERT_EQ(times.size(), 13u);
  for (size_t i = 1; i < times.size(); ++i) {
    EXPECT_LT(times[i] - times[i - 1], milliseconds(40 + 960)) << i;  // generous for loaded CI
  }
  EXPECT_LT(times.back() - times.front(), milliseconds(12 * 40 + 2000));
}

TEST_F(UploaderTest, RejectedRecordsAloneAreRetriedAndEachIsDeliveredOnce) {
  // Firehose-style partial failure: every third record is rejected the first two times.
  std::map<std::string, int> rejections;
  FakeTarget target([&](int, const std::vector<std::string>& records) {
    std::vector<bool> accepted;
    for (const auto& r : records) {
      const bool pick = std::stoi(r.substr(r.find('-') + 1)) % 3 == 0;
      accepted.push_back(!(pick && rejections[r]++ < 2));
    }
    return accepted;
  });
  auto written = spoolRecords(30);
  Uploader uploader(*spool_, target, fastOptions());
  uploader.start();
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(30)));
  expectEachOnce(target, written);
  EXPECT_EQ(uploader.counters().recordFailures, 20u);  // 10 records x 2 rejections
  EXPECT_EQ(uploader.counters().recordsDelivered, 30u);
  EXPECT_EQ(spool_->bytes(), 0u);
  EXPECT_EQ(filesInSpool(), 0u);
}

TEST_F(UploaderTest, ResultOfTheWrongSizeKeepsEveryRecord) {
  FakeTarget target([](int call, const std::vector<std::string>& r) {
    return call == 0 ? std::vector<bool>(r.size() - 1, true) : std::vector<bool>(r.size(), true);
  });
  auto written = spoolRecords(4);
  Uploader uploader(*spool_, target, fastOptions());
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(30)));
  // The first answer is not trusted: everything is delivered again by the second call.
  EXPECT_EQ(target.calls(), 2);
  EXPECT_EQ(uploader.counters().recordsDelivered, 4u);
}

TEST_F(UploaderTest, DrainAndStopDeliversWhatWasQueued) {
  FakeTarget target;
  UploaderOptions options = fastOptions();
  options.coalesce = milliseconds(1000);  // draining must not wait for batches to fill
  Uploader uploader(*spool_, target, options);
  uploader.start();
  auto written = spoolRecords(20);
  const auto start = steady_clock::now();
  EXPECT_TRUE(uploader.drainAndStop(start + std::chrono::seconds(30)));
  expectEachOnce(target, written);
  EXPECT_EQ(filesInSpool(), 0u);
  EXPECT_EQ(spool_->pendingCount(), 0u);
}

TEST_F(UploaderTest, DrainWithoutStartDeliversOnTheCallersThread) {
  FakeTarget target;
  auto written = spoolRecords(5);
  Uploader uploader(*spool_, target, fastOptions());
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(30)));
  expectEachOnce(target, written);
}

TEST_F(UploaderTest, DeadlineIsRespectedWhenTheTargetAlwaysFails) {
  FakeTarget target(allFail);
  auto written = spoolRecords(5);
  const uint64_t bytes = spool_->bytes();
  UploaderOptions options = fastOptions();
  options.backoffBase = milliseconds(60000);  // a long pause is in progress when we stop
  options.backoffCap = milliseconds(60000);
  Uploader uploader(*spool_, target, options);
  uploader.start();
  while (target.calls() == 0) std::this_thread::sleep_for(milliseconds(1));
  std::this_thread::sleep_for(milliseconds(20));
  const auto start = steady_clock::now();
  EXPECT_FALSE(uploader.drainAndStop(start + milliseconds(300)));
  const auto took = steady_clock::now() - start;
  EXPECT_GE(took, milliseconds(250));   // it kept trying until the deadline...
  EXPECT_LT(took, milliseconds(3000));  // ...and not much longer
  EXPECT_GE(target.calls(), 2);         // the stop cut the long pause short for a last attempt
  EXPECT_TRUE(target.delivered().empty());
  EXPECT_EQ(filesInSpool(), 5u);  // nothing dropped: the records stay on disk
  EXPECT_EQ(spool_->pendingCount(), 5u);
  EXPECT_EQ(spool_->bytes(), bytes);
  EXPECT_EQ(uploader.counters().recordsDelivered, 0u);
}

TEST_F(UploaderTest, DestructorStopsPromptlyAndKeepsRecords) {
  FakeTarget target(allFail);
  spoolRecords(2);
  UploaderOptions options = fastOptions();
  options.backoffBase = milliseconds(60000);
  options.backoffCap = milliseconds(60000);
  const auto start = steady_clock::now();
  {
    Uploader uploader(*spool_, target, options);
    uploader.start();
    while (target.calls() == 0) std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_LT(steady_clock::now() - start, milliseconds(3000));
  EXPECT_EQ(filesInSpool(), 2u);
  EXPECT_EQ(spool_->pendingCount(), 2u);
}

TEST_F(UploaderTest, UnreadableFileIsMovedToCorruptNotDropped) {
  FakeTarget target;
  auto written = spoolRecords(3);
  // Damage the middle file after it was spooled: its size no longer matches.
  auto all = spool_->take(10, UINT64_MAX, steady_clock::now());
  ASSERT_EQ(all.size(), 3u);
  std::ofstream(all[1].path, std::ios::trunc) << "x";
  spool_->requeue(all);
  Uploader uploader(*spool_, target, fastOptions());
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(30)));
  auto delivered = target.delivered();
  EXPECT_EQ(delivered.size(), 2u);
  EXPECT_EQ(delivered[written[0]], 1);
  EXPECT_EQ(delivered[written[2]], 1);
  EXPECT_EQ(uploader.counters().unreadable, 1u);
  EXPECT_TRUE(fs::exists(dir_ / "corrupt" / all[1].path.filename()));
  EXPECT_EQ(spool_->bytes(), 0u);
}

}  // namespace
}  // namespace kinesyslog::deliver

namespace kinesyslog::deliver {
namespace {

// Several lanes of one target object: the fake is thread-safe, so one object stands for the
// lanes' separate connections.
UploadStream streamOf(const std::string& name, FakeTarget& target, int lanes, bool adaptive) {
  return UploadStream{name, std::vector<DeliveryTarget*>(static_cast<size_t>(lanes), &target),
                      adaptive};
}

TEST_F(UploaderTest, LanesKeepSeveralRequestsInFlightAndDeliverEachRecordOnce) {
  FakeTarget target;
  target.callDelay = milliseconds(30);
  target.maxRecords = 10;
  auto options = fastOptions();
  options.maxRecords = 10;
  auto written = spoolRecords(400);
  std::vector<UploadStream> streams;
  streams.push_back(streamOf("one", target, 4, true));
  Uploader uploader(*spool_, std::move(streams), options);
  uploader.start();
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(30)));
  expectEachOnce(target, written);
  EXPECT_GT(target.maxInFlight(), 1);
  EXPECT_LE(target.maxInFlight(), 4);
  EXPECT_EQ(uploader.streamCounters(0).recordsAccepted, 400u);
  EXPECT_EQ(uploader.streamCounters(0).requests, static_cast<uint64_t>(target.calls()));
  EXPECT_EQ(filesInSpool(), 0u);
}

TEST_F(UploaderTest, AThrottlingStreamGetsLessAndEveryRecordArrivesOnce) {
  // Stream "slow" refuses two records in three for its quota; "fast" takes everything.
  FakeTarget fast;
  FakeTarget slow([](int, const std::vector<std::string>& r) {
    std::vector<bool> accepted(r.size(), false);
    for (size_t i = 0; i < r.size(); i += 3) accepted[i] = true;
    return accepted;
  });
  slow.throttles = true;
  fast.callDelay = slow.callDelay = milliseconds(10);
  auto options = fastOptions();
  options.maxRecords = 20;
  auto written = spoolRecords(600);
  std::vector<UploadStream> streams;
  streams.push_back(streamOf("fast", fast, 2, true));
  streams.push_back(streamOf("slow", slow, 2, true));
  Uploader uploader(*spool_, std::move(streams), options);
  uploader.start();
  EXPECT_TRUE(uploader.drainAndStop(steady_clock::now() + std::chrono::seconds(60)));
  // Each record delivered exactly once over both streams.
  const auto a = fast.delivered();
  const auto b = slow.delivered();
  EXPECT_EQ(a.size() + b.size(), written.size());
  for (const auto& record : written) {
    const int copies = (a.count(record) ? a.at(record) : 0) + (b.count(record) ? b.at(record) : 0);
    EXPECT_EQ(copies, 1) << record;
  }
  const auto& fastCounters = uploader.streamCounters(0);
  const auto& slowCounters = uploader.streamCounters(1);
  EXPECT_GT(fastCounters.recordsAccepted, slowCounters.recordsAccepted);
  EXPECT_EQ(fastCounters.recordsAccepted + slowCounters.recordsAccepted, 600u);
  EXPECT_GT(slowCounters.throttledRequests, 0u);
  EXPECT_GT(slowCounters.recordsThrottled, 0u);
  EXPECT_EQ(slowCounters.recordsFailed, 0u);
  EXPECT_GT(slowCounters.rateCuts, 0u);
  EXPECT_GT(slowCounters.sendRateBytesPerSecond, 0u);
  EXPECT_EQ(fastCounters.throttledRequests, 0u);
  EXPECT_EQ(fastCounters.sendRateBytesPerSecond, 0u);  // never throttled: not limited
  // Throttling slows the rate; it is not a failure that grows the backoff.
  EXPECT_EQ(uploader.counters().consecutiveFailures, 0u);
  EXPECT_EQ(uploader.streamName(1), "slow");
  EXPECT_EQ(filesInSpool(), 0u);
}

}  // namespace
}  // namespace kinesyslog::deliver
