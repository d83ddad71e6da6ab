// Covered by tests/integration/test_shutdown.py and tests/integration/test_journal.py (the
// encoders' drain and shutdown_unspooled_messages).
#include "record/encoder_pool.h"

#include <chrono>

#include "metrics/relay_counters.h"
#include "record/batch_buffer_pool.h"
#include "record/record_encoder.h"
#include "spool/spool_directory.h"

namespace kinesyslog::record {

namespace {

// Writes one batch's records to the spool and marks each in the batch's journal.
class SpoolingSink final : public RecordSink {
 public:
  SpoolingSink(spool::SpoolDirectory& spool, const std::atomic<bool>& giveUp)
      : spool_(spool), giveUp_(giveUp) {}

  void startBatch(const JournalTicket& ticket) {
    ticket_ = ticket;
    eventsSpooled_ = 0;
    eventsLost_ = 0;
  }
  // Events of the batch that are not in the spool (their writes were given up).
  uint64_t eventsLost() const { return eventsLost_; }

  void onRecord(std::string_view gzipRecord, size_t eventCount) override {
    using metrics::Counter;
    // A failed write (disk full, EIO) is retried: the record is the only copy of its messages
    // outside the journal.
    while (!spool_.write(gzipRecord)) {
      metrics::counters().add(Counter::kSpoolWriteErrors);
      if (giveUp_.load()) {
        eventsLost_ += eventCount;
        return;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    metrics::counters().add(Counter::kSpoolWrites);
    eventsSpooled_ += eventCount;
    // Only a prefix of the batch can be marked: after a record was given up, later records are
    // left for the replay too.
    if (ticket_.journal != nullptr && eventsLost_ == 0) {
      ticket_.journal->spooled(ticket_, static_cast<uint32_t>(eventsSpooled_));
    }
  }

 private:
  spool::SpoolDirectory& spool_;
  const std::atomic<bool>& giveUp_;
  JournalTicket ticket_;
  uint64_t eventsSpooled_ = 0;
  uint64_t eventsLost_ = 0;
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

uint64_t EncoderPool::drainAndStop(std::chrono::steady_clock::time_point deadline) {
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
    if (!idle_.wait_until(lock, deadline, [this] { return queue_.empty() && busy_ == 0; })) {
      giveUp_.store(true);
    }
  }
  drainAndStop();
  return unspooledMessages_.load();
}

void EncoderPool::run() {
  RecordEncoder encoder(owner_, compressionLevel_);
  SpoolingSink sink(spool_, giveUp_);
  uint64_t reportedJson = 0, reportedFed = 0, reportedRecords = 0, reportedResplits = 0,
           reportedOversize = 0, reportedCompressNanos = 0;
  for (;;) {
    SourceBatch batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      batch = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    uint64_t lost = 0;
    if (giveUp_.load()) {
      // Past the shutdown deadline: not even tried; the journal (when on) still holds it.
      lost = batch.events.size();
    } else {
      sink.startBatch(batch.journal);
      encoder.encode(batch, sink);
      lost = sink.eventsLost();
    }
    if (lost == 0 && batch.journal.journal != nullptr) {
      batch.journal.journal->release(batch.journal);
    }
    if (lost > 0) {
      unspooledMessages_.fetch_add(lost);
      metrics::counters().add(metrics::Counter::kShutdownUnspooledMessages, lost);
    }
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
    // Whole microseconds are reported; the remainder waits for the next batch.
    const uint64_t compressMicros = (c.compressCpuNanos - reportedCompressNanos) / 1000;
    counters.add(metrics::Counter::kCompressionCpuMicros, compressMicros);
    reportedCompressNanos += compressMicros * 1000;
    {
      std::lock_guard lock(mutex_);
      --busy_;
    }
    idle_.notify_all();
  }
}

}  // namespace kinesyslog::record
