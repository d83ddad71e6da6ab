#include "record/encoder_pool.h"

#include <chrono>

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "record/batch_buffer_pool.h"
#include "record/record_encoder.h"
#include "spool/spool_directory.h"
#include "util/clock.h"

namespace kinesyslog::record {

namespace {

class SpoolingSink final : public RecordSink {
 public:
  SpoolingSink(spool::SpoolDirectory& spool, const std::atomic<bool>& giveUp)
      : spool_(spool), giveUp_(giveUp) {}
  void onRecord(std::string_view gzipRecord, size_t /*eventCount*/) override {
    using metrics::Counter;
    // A failed write (disk full, EIO) is retried: the record is the only copy of its messages.
    while (!spool_.write(gzipRecord)) {
      metrics::counters().add(Counter::kSpoolWriteErrors);
      if (giveUp_.load()) return;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    metrics::counters().add(Counter::kSpoolWrites);
  }

 private:
  spool::SpoolDirectory& spool_;
  const std::atomic<bool>& giveUp_;
};

}  // namespace

EncoderPool::EncoderPool(unsigned threads, std::string owner, int compressionLevel,
                         spool::SpoolDirectory& spool, BatchBufferPool* buffers)
    : owner_(std::move(owner)),
      compressionLevel_(compressionLevel),
      spool_(spool),
      buffers_(buffers) {
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

EncoderPool::~EncoderPool() {
  drainAndStop();
}

void EncoderPool::onBatch(SourceBatch&& batch) {
  queuedBytes_.fetch_add(batch.arena.size(), std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(batch));
  }
  wake_.notify_one();
}

void EncoderPool::drainAndStop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void EncoderPool::run() {
  RecordEncoder encoder(owner_, compressionLevel_);
  SpoolingSink sink(spool_, abandonFailedWrites_);
  uint64_t reportedJson = 0, reportedFed = 0, reportedRecords = 0, reportedResplits = 0,
           reportedOversize = 0;
  for (;;) {
    SourceBatch batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    encoder.encode(batch, sink);
    queuedBytes_.fetch_sub(batch.arena.size(), std::memory_order_relaxed);
    if (buffers_ != nullptr) buffers_->recycle(std::move(batch));

    const auto& c = encoder.counters();
    auto& counters = metrics::counters();
    counters.add(metrics::Counter::kJsonBytes, c.jsonBytes - reportedJson);
    counters.add(metrics::Counter::kCompressedBytesFed, c.compressedBytesFed - reportedFed);
    counters.add(metrics::Counter::kRecordsEncoded, c.records - reportedRecords);
    counters.add(metrics::Counter::kRecordResplits, c.resplits - reportedResplits);
    reportedJson = c.jsonBytes;
    reportedFed = c.compressedBytesFed;
    reportedRecords = c.records;
    reportedResplits = c.resplits;
    counters.add(metrics::Counter::kEventsOversizeDropped, c.oversizeEvents - reportedOversize);
    reportedOversize = c.oversizeEvents;
  }
}

}  // namespace kinesyslog::record
