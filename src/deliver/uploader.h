#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "deliver/backoff.h"
#include "deliver/delivery_target.h"
#include "spool/spool_directory.h"

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

// The one delivery thread of DESIGN §1 "Spool and delivery": takes batches off the spool as
// soon as records are spooled (after a short coalescing delay), hands them to the target,
// deletes what the target accepted and puts the rest back at the front of the queue, then
// waits with capped exponential backoff and full jitter. It never drops a spooled record: a
// file that cannot be read is moved to the spool's corrupt/ folder, logged and counted.
//
// `spool` and `target` must outlive the uploader; target.put() is only called from the
// uploader's thread (or from drainAndStop()'s caller when start() was never called).
class Uploader {
 public:
  Uploader(spool::SpoolDirectory& spool, DeliveryTarget& target, UploaderOptions options);
  // Stops at once if still running (what is not delivered stays spooled).
  ~Uploader();
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  void start();
  // Shutdown: delivers everything queued, including records spooled until this call, until
  // the queue is empty or the deadline passes, then stops the thread. A backoff pause in
  // progress ends at once (one last attempt); later pauses end at the deadline. A put() in
  // progress is not interrupted, so the target's own timeouts bound the overrun. Returns true
  // when the spool queue was empty at the end. Without start(), drains on the caller's thread.
  bool drainAndStop(std::chrono::steady_clock::time_point deadline);
  const UploaderCounters& counters() const { return counters_; }

 private:
  void run();
  void deliver(std::vector<spool::SpoolRecord> batch);
  void pause(std::chrono::milliseconds delay);
  void logFailure(const std::string& error, size_t failed, size_t total,
                  std::chrono::milliseconds delay);

  spool::SpoolDirectory& spool_;
  DeliveryTarget& target_;
  const UploaderOptions options_;
  Backoff backoff_;  // uploader thread only
  UploaderCounters counters_;
  std::vector<std::string> data_;  // the request being sent; uploader thread only

  // Failure logging, at most one line per 10 s (DESIGN §1 "Logging"); uploader thread only.
  std::chrono::steady_clock::time_point lastFailureLog_{};
  uint64_t suppressedFailureLogs_ = 0;

  std::mutex mutex_;
  std::condition_variable stopChanged_;
  bool stopping_ = false;                             // guarded by mutex_
  std::chrono::steady_clock::time_point deadline_{};  // guarded by mutex_
  std::thread thread_;
};

}  // namespace kinesyslog::deliver
