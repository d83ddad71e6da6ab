#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "deliver/backoff.h"
#include "deliver/delivery_target.h"
#include "deliver/send_rate.h"
#include "spool/spool_directory.h"
#include "util/clock.h"

namespace kinesyslog::deliver {

struct UploaderOptions {
  // PutRecordBatch limits: 500 records and 4 MiB of record data per request.
  size_t maxRecords = 500;
  uint64_t maxBytes = 4 * 1024 * 1024;
  // After the first record of a batch arrives, how long to wait for the batch to fill.
  std::chrono::milliseconds coalesce{50};
  std::chrono::milliseconds backoffBase{100};
  std::chrono::milliseconds backoffCap{20000};
  uint64_t seed = 0;  // for the backoff jitter; 0 picks a random one
};

struct UploaderCounters {
  std::atomic<uint64_t> batches{0};           // put() calls
  std::atomic<uint64_t> recordsDelivered{0};  // records accepted (and then deleted)
  std::atomic<uint64_t> recordFailures{0};    // records not accepted, counted per attempt
  std::atomic<uint64_t> requestFailures{0};   // put() calls that accepted no record at all
  std::atomic<uint64_t> bytesDelivered{0};    // record bytes accepted
  std::atomic<uint64_t> unreadable{0};        // spool files that could not be read: corrupt/
  // Gauge: put() calls since the last one that accepted everything (the backoff attempt).
  std::atomic<uint64_t> consecutiveFailures{0};
  // Steady-clock microseconds of the first put() that delivered no record since the last one
  // that delivered any; 0 while records get through (the readiness rule "every upload has
  // failed").
  std::atomic<int64_t> failingSinceMicros{0};
};

// One stream's share of the delivery, for logs and metrics; any thread may read.
struct StreamCounters {
  std::atomic<uint64_t> requests{0};           // put() calls
  std::atomic<uint64_t> throttledRequests{0};  // of them: throttled whole or in part
  std::atomic<uint64_t> recordsAccepted{0};
  std::atomic<uint64_t> recordsThrottled{0};  // refused for the stream's quota, per attempt
  std::atomic<uint64_t> recordsFailed{0};     // not accepted for any other reason, per attempt
  std::atomic<uint64_t> bytesAccepted{0};
  std::atomic<uint64_t> rateCuts{0};  // times the send rate was cut
  // Gauges: the send rate allowed (bytes/s; 0 until the stream first throttles, i.e. not
  // limited), requests in flight, and how many may be.
  std::atomic<uint64_t> sendRateBytesPerSecond{0};
  std::atomic<uint64_t> requestsInFlight{0};
  std::atomic<uint64_t> inFlightLimit{0};
};

// A destination the uploader delivers to: one Firehose stream, or the output directory.
struct UploadStream {
  std::string name;  // for logs and metrics: the stream's name
  // One target per request that may be in flight: a target is used by one thread at a time.
  std::vector<DeliveryTarget*> lanes;
  // Firehose: the send rate adapts to the stream's throttling (SendRate). Otherwise requests
  // go as fast as the lanes send them.
  bool adaptive = false;
};

// Delivery from the spool (docs/operations.md, "Firehose delivery"): takes batches off the spool as
// soon as records are spooled (after a short coalescing delay), hands them to a stream, deletes
// what it accepted and puts the rest back at the front of the queue. It never drops a spooled
// record: a file that cannot be read is moved to the spool's corrupt/ folder, logged and counted.
//
// Each stream has one thread per lane (request in flight), each with its own target and so its
// own connection. The lanes of a stream take turns at the spool queue, and a lane takes a batch
// only when its stream's send rate allows another request: so records go to the streams by
// what each currently accepts, a throttling stream gets less, and each taken record is in one
// request at a time (the queue hands it out once; what is not accepted goes back to the queue
// for whichever stream takes it next). A throttled request slows the stream's send rate; any
// other failure pauses that lane with capped exponential backoff and full jitter.
//
// `spool` and the streams' targets must outlive the uploader.
class Uploader {
 public:
  Uploader(spool::SpoolDirectory& spool, std::vector<UploadStream> streams, UploaderOptions options,
           const Clock& clock = SystemClock::instance());
  // One target, one request at a time, no adaptive rate (the output directory, and tests).
  Uploader(spool::SpoolDirectory& spool, DeliveryTarget& target, UploaderOptions options);
  // Stops at once if still running (what is not delivered stays spooled).
  ~Uploader();
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  void start();
  // Shutdown: delivers everything queued, including records spooled until this call, until
  // the queue is empty or the deadline passes, then stops the threads. A backoff pause in
  // progress ends at once (one last attempt); later pauses end at the deadline. A put() in
  // progress is not interrupted, so the target's own timeouts bound the overrun. Returns true
  // when the spool queue was empty at the end. Without start(), drains on the caller's thread.
  [[nodiscard]] bool drainAndStop(std::chrono::steady_clock::time_point deadline);
  const UploaderCounters& counters() const { return counters_; }

  size_t streamCount() const { return streams_.size(); }
  const std::string& streamName(size_t i) const { return streams_[i]->config.name; }
  const StreamCounters& streamCounters(size_t i) const { return streams_[i]->counters; }

 private:
  struct Stream {
    Stream(UploadStream config, const Clock& clock, const UploaderOptions& options, uint64_t seed)
        : config(std::move(config)),
          rate(clock, static_cast<unsigned>(this->config.lanes.size())),
          backoff(options.backoffBase, options.backoffCap, seed) {}
    UploadStream config;
    std::mutex takeTurn;  // one lane at a time waits for and takes records
    std::mutex mutex;
    std::condition_variable changed;                      // a request finished, or stopping
    SendRate rate;                                        // guarded by mutex
    Backoff backoff;                                      // guarded by mutex
    std::chrono::steady_clock::time_point lastRateLog{};  // guarded by mutex
    StreamCounters counters;
  };
  struct Lane {
    Stream* stream = nullptr;
    DeliveryTarget* target = nullptr;
    std::vector<std::string> data;  // the request being sent; this lane's thread only
    std::thread thread;
  };

  void runLane(Lane& lane);
  // Waits until the stream's rate and window allow another request; false when the wait
  // ended first (stop requested, or `until`).
  [[nodiscard]] bool waitForPermission(Stream& stream, std::chrono::steady_clock::time_point until);
  // What one request to the target came to.
  struct Sent {
    size_t accepted = 0;
    bool throttled = false;  // refused for the stream's quota, and the stream is adaptive
    std::string error = "cannot read spool files (out of file descriptors or memory)";
  };
  // One batch: read, send, remove what was accepted, requeue the rest and back off.
  void deliver(Lane& lane, std::vector<spool::SpoolRecord> batch, uint64_t ticket);
  // Reads the batch into lane.data: readable records to `records`, transient failures to
  // `retry`; unreadable files go to corrupt/.
  void readBatch(Lane& lane, std::vector<spool::SpoolRecord>& batch,
                 std::vector<spool::SpoolRecord>& records, std::vector<spool::SpoolRecord>& retry);
  // Sends `records` (read into lane.data) in one request; the refused ones move to `retry`.
  [[nodiscard]] Sent send(Lane& lane, std::vector<spool::SpoolRecord>& records,
                          std::vector<spool::SpoolRecord>& retry);
  [[nodiscard]] Sent tally(Stream& stream, std::vector<spool::SpoolRecord>& records,
                           PutResult result, std::vector<spool::SpoolRecord>& retry);
  void noteFailingSince(size_t accepted);
  // Everything of the batch was accepted: the backoff resets.
  void delivered(Stream& stream, uint64_t ticket, const std::string& target);
  void finish(Stream& stream, uint64_t ticket, SendOutcome outcome);
  void pause(std::chrono::milliseconds delay);
  void logFailure(const Stream& stream, const std::string& error, size_t failed, size_t total,
                  std::chrono::milliseconds delay, int attempt);
  bool stopping(std::chrono::steady_clock::time_point* deadline = nullptr);

  spool::SpoolDirectory& spool_;
  const UploaderOptions options_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  UploaderCounters counters_;

  // Failure logging, at most one line per 10 s.
  std::mutex logMutex_;
  std::chrono::steady_clock::time_point lastFailureLog_{};  // guarded by logMutex_
  uint64_t suppressedFailureLogs_ = 0;                      // guarded by logMutex_

  std::mutex mutex_;
  std::condition_variable stopChanged_;
  bool stopping_ = false;                             // guarded by mutex_
  std::chrono::steady_clock::time_point deadline_{};  // guarded by mutex_
  bool started_ = false;
};

}  // namespace kinesyslog::deliver
