#include "record/batch_buffer_pool.h"

#include <utility>

namespace kinesyslog::record {

namespace {
// Event references for an arena of `bytes`: syslog lines are rarely shorter than this.
constexpr size_t kTypicalMessageBytes = 128;
}  // namespace

void BatchBufferPool::prepare(SourceBatch& batch, size_t expectedBytes) {
  if (expectedBytes < kMinPooledCapacity || batch.arena.capacity() >= expectedBytes) return;
  Buffers taken;
  bool found = false;
  {
    std::lock_guard lock(mutex_);
    size_t best = free_.size();
    for (size_t i = 0; i < free_.size(); ++i) {
      const size_t capacity = free_[i].arena.capacity();
      if (capacity >= expectedBytes &&
          (best == free_.size() || capacity < free_[best].arena.capacity())) {
        best = i;
      }
    }
    if (best != free_.size()) {
      taken = std::move(free_[best]);
      free_[best] = std::move(free_.back());
      free_.pop_back();
      pooledBytes_ -= taken.arena.capacity();
      found = true;
    }
  }
  if (found) {
    batch.arena = std::move(taken.arena);
    batch.events = std::move(taken.events);
  } else {
    batch.arena.reserve(expectedBytes);
    batch.events.reserve(expectedBytes / kTypicalMessageBytes);
  }
}

void BatchBufferPool::recycle(SourceBatch&& batch) {
  Buffers buffers{std::move(batch.arena), std::move(batch.events)};
  const size_t capacity = buffers.arena.capacity();
  if (capacity < kMinPooledCapacity) return;
  buffers.arena.clear();
  buffers.events.clear();
  std::lock_guard lock(mutex_);
  if (pooledBytes_ + capacity > maxPooledBytes_) return;  // freed as `buffers` leaves scope
  pooledBytes_ += capacity;
  free_.push_back(std::move(buffers));
}

uint64_t BatchBufferPool::pooledBytes() const {
  std::lock_guard lock(mutex_);
  return pooledBytes_;
}

size_t BatchBufferPool::pooledCount() const {
  std::lock_guard lock(mutex_);
  return free_.size();
}

}  // namespace kinesyslog::record
