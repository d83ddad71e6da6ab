#include "record/batcher.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "metrics/relay_counters.h"
#include "record/batch_buffer_pool.h"

namespace kinesyslog::record {

namespace {
// A batch passes the flush size by at most one message: the largest allowed (262,144 bytes)
// plus the rewrite's prefix.
constexpr size_t kMaxOvershoot = 262'144 + 1024;

// A group name or a sender's address: a few bytes, compared for every message. Lengths of 8 to 16
// bytes (most addresses) take two overlapping word compares; a call to memcmp, or a byte loop,
// cost several times more (profiles of a TCP run).
bool sameText(const std::string& a, std::string_view b) {
  const size_t n = b.size();
  if (a.size() != n) return false;
  if (n < 8 || n > 16) return std::memcmp(a.data(), b.data(), n) == 0;
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a.data(), 8);
  std::memcpy(&b0, b.data(), 8);
  std::memcpy(&a1, a.data() + n - 8, 8);
  std::memcpy(&b1, b.data() + n - 8, 8);
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}
}  // namespace

Batcher::Batcher(uint64_t flushSizeBytes, int64_t flushIntervalMicros, BatchSink& sink,
                 BatchBufferPool* pool, BatchJournal* journal)
    : flushSizeBytes_(flushSizeBytes),
      flushIntervalMicros_(flushIntervalMicros),
      sink_(sink),
      pool_(pool),
      journal_(journal) {}

Batcher::Entry& Batcher::entryFor(std::string_view group, std::string_view stream) {
  // Consecutive messages nearly always come from the same source (one read of one connection):
  // two short comparisons instead of building a key and hashing it for every message.
  if (recent_ != nullptr && sameText(recent_->batch.stream, stream) &&
      sameText(recent_->batch.group, group)) {
    return *recent_;
  }
  keyScratch_.assign(group);
  keyScratch_ += '\0';
  keyScratch_ += stream;
  auto it = entries_.find(keyScratch_);
  if (it == entries_.end()) {
    it = entries_.emplace(keyScratch_, Entry{}).first;
    it->second.batch.group.assign(group);
    it->second.batch.stream.assign(stream);
  }
  recent_ = &it->second;  // unordered_map never moves its elements; flushDue() forgets it
  return *recent_;
}

SourceBatch& Batcher::batchFor(std::string_view group, std::string_view stream,
                               int64_t monotonicNow) {
  Entry& entry = entryFor(group, stream);
  if (entry.batch.events.empty()) {
    entry.oldestMonotonic = monotonicNow;
    // A source as busy as last time needs as much again; a quarter more absorbs growth, and
    // no batch outgrows the flush size by more than one message.
    if (pool_ != nullptr && entry.lastFlushBytes > 0) {
      const size_t expected = std::min<size_t>(entry.lastFlushBytes + entry.lastFlushBytes / 4,
                                               flushSizeBytes_ + kMaxOvershoot);
      pool_->prepare(entry.batch, expected);
    }
  }
  last_ = &entry.batch;
  return entry.batch;
}

void Batcher::committed(size_t bytes) {
  if (journal_ != nullptr && last_ != nullptr && !last_->events.empty()) {
    SourceBatch& batch = *last_;
    // The batch joins the journal with its first message, so a batch that stayed empty (an
    // empty message) holds no segment.
    if (batch.journal.journal == nullptr) {
      batch.journal = journal_->openBatch(batch.group, batch.stream);
    }
    const EventRef& event = batch.events.back();
    journal_->appendEvent(batch.journal.serial, event.timestampMs, batch.message(event));
  }
  last_ = nullptr;
  bufferedBytes_ += bytes;
  if (bufferedBytes_ >= flushSizeBytes_) flushAll();
}

void Batcher::flushEntry(Entry& entry) {
  if (entry.batch.events.empty()) return;
  bufferedBytes_ -= entry.batch.arena.size();
  entry.lastFlushBytes = entry.batch.arena.size();
  metrics::counters().add(metrics::Counter::kBatchesFlushed);
  SourceBatch out;
  out.group = entry.batch.group;
  out.stream = entry.batch.stream;
  std::swap(out.arena, entry.batch.arena);
  std::swap(out.events, entry.batch.events);
  out.journal = std::exchange(entry.batch.journal, JournalTicket{});
  sink_.onBatch(std::move(out));
}

void Batcher::flushDue(int64_t monotonicNow) {
  last_ = nullptr;  // entries may be erased below
  recent_ = nullptr;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    if (entry.batch.events.empty()) {
      // Idle since its last flush: forget the source so idle senders hold no memory.
      it = entries_.erase(it);
      continue;
    }
    if (monotonicNow - entry.oldestMonotonic >= flushIntervalMicros_) flushEntry(entry);
    ++it;
  }
}

void Batcher::flushAll() {
  for (auto& [key, entry] : entries_) flushEntry(entry);
}

}  // namespace kinesyslog::record
