#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "record/source_batch.h"

namespace kinesyslog::record {

// Buffers of encoded batches come back here and go out again to the I/O threads' next batches,
// so a busy source's multi-megabyte arena is allocated and faulted in once instead of once per
// flush. Growing a fresh arena by doubling copied every message again and touched new pages; on
// the project's VMs those page faults cost more CPU than everything but compression.
//
// Bounded: the pool keeps at most maxPooledBytes of arena capacity; what does not fit, and
// buffers too small to matter, are freed. Thread-safe; the lock is taken once per batch, never
// per message.
class BatchBufferPool {
 public:
  // Arenas below this capacity are cheap to grow and are not pooled.
  static constexpr size_t kMinPooledCapacity = 64 * 1024;

  explicit BatchBufferPool(uint64_t maxPooledBytes) : maxPooledBytes_(maxPooledBytes) {}
  BatchBufferPool(const BatchBufferPool&) = delete;
  BatchBufferPool& operator=(const BatchBufferPool&) = delete;

  // Gives the empty `batch` buffers for about `expectedBytes` of messages: the smallest pooled
  // arena that holds them, else a new reservation of that size. Does nothing for a small
  // expectation (below kMinPooledCapacity) or a batch that already has capacity.
  void prepare(SourceBatch& batch, size_t expectedBytes);

  // Takes back the buffers of a batch that has been encoded (its contents are discarded).
  void recycle(SourceBatch&& batch);

  uint64_t pooledBytes() const;
  size_t pooledCount() const;

 private:
  struct Buffers {
    std::string arena;
    std::vector<EventRef> events;
  };

  const uint64_t maxPooledBytes_;
  mutable std::mutex mutex_;
  std::vector<Buffers> free_;  // Invariant: sum of arena capacities == pooledBytes_
  uint64_t pooledBytes_ = 0;
};

}  // namespace kinesyslog::record
