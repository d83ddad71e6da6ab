#include "net/partial_budget.h"

#include <algorithm>

#include "metrics/internal_error.h"

namespace kinesyslog::net {

PartialBudget::Slot PartialBudget::join(Holder& holder) {
  Slot slot;
  if (free_.empty()) {
    slot = static_cast<Slot>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_.back();
    free_.pop_back();
  }
  slots_[slot] = Entry{&holder, 0, heap_.size()};
  heap_.push_back(slot);
  // Holding nothing, it already sits where a max-heap wants it: nothing to sift.
  return slot;
}

void PartialBudget::leave(Slot slot) {
  Entry& entry = slots_[slot];
  // Leaving twice would pop another holder's heap entry: refuse, and the budget stays whole.
  if (KINESYSLOG_BUG_IF(entry.holder == nullptr, "partial budget: a slot left twice")) return;
  total_ -= entry.bytes;
  const size_t index = entry.heapIndex;
  const Slot last = heap_.back();
  heap_.pop_back();
  if (last != slot) {
    place(index, last);
    siftUp(index);
    siftDown(slots_[last].heapIndex);
  }
  entry = Entry{};
  free_.push_back(slot);
}

void PartialBudget::update(Slot slot, uint64_t bytes) {
  Entry& entry = slots_[slot];
  if (entry.bytes == bytes) return;
  const bool grew = bytes > entry.bytes;
  total_ = total_ - entry.bytes + bytes;
  entry.bytes = bytes;
  if (grew) {
    siftUp(entry.heapIndex);
  } else {
    siftDown(entry.heapIndex);
  }
}

size_t PartialBudget::makeRoom(Slot reader, uint64_t maxHeld) {
  size_t cuts = 0;
  for (;;) {
    const uint64_t mayGrow = maxHeld - std::min(maxHeld, slots_[reader].bytes);
    if (total_ + mayGrow <= limit_) return cuts;
    // Nothing left to cut: only a limit below maxHeld gets here, which the options refuse.
    if (heap_.empty() || slots_[heap_.front()].bytes == 0) return cuts;
    const Slot largest = heap_.front();
    slots_[largest].holder->cutPartial();
    // Each round frees at least one byte, so the loop ends.
    update(largest, 0);
    ++cuts;
  }
}

void PartialBudget::place(size_t index, Slot slot) {
  heap_[index] = slot;
  slots_[slot].heapIndex = index;
}

void PartialBudget::siftUp(size_t index) {
  const Slot slot = heap_[index];
  while (index > 0) {
    const size_t parent = (index - 1) / 2;
    if (!above(slot, heap_[parent])) break;
    place(index, heap_[parent]);
    index = parent;
  }
  place(index, slot);
}

void PartialBudget::siftDown(size_t index) {
  const Slot slot = heap_[index];
  const size_t n = heap_.size();
  for (;;) {
    size_t child = 2 * index + 1;
    if (child >= n) break;
    if (child + 1 < n && above(heap_[child + 1], heap_[child])) ++child;
    if (!above(heap_[child], slot)) break;
    place(index, heap_[child]);
    index = child;
  }
  place(index, slot);
}

}  // namespace kinesyslog::net
