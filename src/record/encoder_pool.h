#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "record/batcher.h"

namespace kinesyslog::spool {
class SpoolDirectory;
}

namespace kinesyslog::record {

class BatchBufferPool;

// Threads that turn flushed batches into gzip records and write them to the spool, off the
// I/O threads (docs/operations.md "Spool"). A spool write that fails (disk full) keeps the
// record in memory and is retried until shutdown's deadline; nothing handed to the pool is
// dropped before then. Each record spooled is marked in its batch's journal, and a batch whose
// records are all spooled releases its journal segment.
class EncoderPool final : public BatchSink {
 public:
  // Encoded batches' buffers go back to `buffers` (may be null) for the I/O threads to reuse.
  EncoderPool(unsigned threads, std::string owner, int compressionLevel,
              spool::SpoolDirectory& spool, BatchBufferPool* buffers = nullptr);
  ~EncoderPool() override;
  EncoderPool(const EncoderPool&) = delete;
  EncoderPool& operator=(const EncoderPool&) = delete;

  void onBatch(SourceBatch&& batch) override;  // thread-safe
  // Bytes of messages waiting to be encoded; the I/O threads pause TCP reads past a bound.
  uint64_t queuedBytes() const { return queuedBytes_.load(std::memory_order_relaxed); }
  // Blocks until every batch handed in so far is spooled, then stops the threads.
  void drainAndStop();
  // The same, but at `deadline` spool writes that keep failing are given up and batches not yet
  // encoded are dropped, so that shutdown ends whatever the disk does. Returns the number of
  // messages that did not reach the spool (counted; with the journal on, the next start
  // replays them from it).
  uint64_t drainAndStop(std::chrono::steady_clock::time_point deadline);

 private:
  void run();

  std::string owner_;
  int compressionLevel_;
  spool::SpoolDirectory& spool_;
  BatchBufferPool* buffers_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;  // a batch finished: drainAndStop(deadline) checks again
  std::deque<SourceBatch> queue_;
  size_t busy_ = 0;  // guarded by mutex_: batches being encoded
  bool stopping_ = false;
  std::atomic<uint64_t> queuedBytes_{0};
  std::atomic<bool> giveUp_{false};
  std::atomic<uint64_t> unspooledMessages_{0};
  std::vector<std::thread> threads_;
};

}  // namespace kinesyslog::record
