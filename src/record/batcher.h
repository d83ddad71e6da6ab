#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "record/source_batch.h"

namespace kinesyslog::record {

class BatchBufferPool;

// Receives flushed batches; ownership moves to the sink (docs/design.md "Threads and memory":
// moved, not copied).
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  virtual void onBatch(SourceBatch&& batch) = 0;
};

// Per-worker buffers, one per (group, source) (docs/design.md "Records"). Not thread-safe: each I/O
// thread owns one. A source's buffer is flushed when its oldest message is flushInterval old;
// when all buffers together hold flushSize bytes, all of them are flushed.
class Batcher {
 public:
  // With a `pool`, a source's new batch starts with buffers sized from its previous flush.
  // With a `journal`, every committed message is appended to it before anything else can
  // happen to its batch (a flush, an encoder), and flushed batches carry their journal ticket.
  Batcher(uint64_t flushSizeBytes, int64_t flushIntervalMicros, BatchSink& sink,
          BatchBufferPool* pool = nullptr, BatchJournal* journal = nullptr);
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // The buffer for the next message of this group and source. Append the message bytes to its
  // arena and an EventRef to its events, then call committed() with the bytes appended, before
  // the next batchFor().
  SourceBatch& batchFor(std::string_view group, std::string_view stream, int64_t monotonicNow);
  void committed(size_t bytes);
  // After each read: writes the messages committed since the last call to the journal (one
  // write). Without a journal, nothing.
  void commitJournal() {
    if (journal_ != nullptr) journal_->commit();
  }

  void flushDue(int64_t monotonicNow);
  void flushAll();
  uint64_t bufferedBytes() const { return bufferedBytes_; }
  size_t sourceCount() const { return entries_.size(); }

 private:
  struct Entry {
    SourceBatch batch;
    int64_t oldestMonotonic = 0;
    size_t lastFlushBytes = 0;  // arena bytes of this source's previous flush
  };
  Entry& entryFor(std::string_view group, std::string_view stream);
  void flushEntry(Entry& entry);

  uint64_t flushSizeBytes_;
  int64_t flushIntervalMicros_;
  BatchSink& sink_;
  BatchBufferPool* pool_;
  BatchJournal* journal_;
  SourceBatch* last_ = nullptr;  // the batch batchFor() returned last
  Entry* recent_ = nullptr;      // the entry batchFor() found last; null after flushDue()
  uint64_t bufferedBytes_ = 0;
  std::string keyScratch_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace kinesyslog::record
