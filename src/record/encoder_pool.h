#pragma once

#include <atomic>
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
// I/O threads (DESIGN §3). A spool write that fails (disk full) keeps the record in memory and
// is retried; nothing handed to the pool is dropped.
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
  // Past the shutdown grace: stop retrying spool writes that keep failing (logged), so the
  // process can exit. Until then a failing write is retried forever.
  void abandonFailedWrites() { abandonFailedWrites_.store(true); }

 private:
  void run();

  std::string owner_;
  int compressionLevel_;
  spool::SpoolDirectory& spool_;
  BatchBufferPool* buffers_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<SourceBatch> queue_;
  bool stopping_ = false;
  std::atomic<uint64_t> queuedBytes_{0};
  std::atomic<bool> abandonFailedWrites_{false};
  std::vector<std::thread> threads_;
};

}  // namespace kinesyslog::record
