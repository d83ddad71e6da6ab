#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kinesyslog::net {

// The share of the partial-message budget (--partial-budget) owned by one worker: the bytes its
// connections' framers hold for messages not yet complete. Each worker owns budget/workers,
// so the shares add up to a hard bound for the process without any thread touching another's
// connections.
//
// The bound is strict: before a connection reads, makeRoom() makes sure the connection could
// grow to the most its framer may hold (`maxHeld`, the --max-message-size) without passing the
// limit, cutting the largest partial messages until it could. A cut never waits for anything,
// so no connection is ever left unread for want of budget (see docs/operations.md, Backpressure
// and memory).
//
// Pure: no I/O, no clock. The largest holder is found in O(1) and kept in O(log n) per change
// (an indexed max-heap), without allocating once the connections' slots exist. One thread only.
class PartialBudget {
 public:
  // What the budget can cut: one connection's framer.
  class Holder {
   public:
    virtual ~Holder() = default;
    // Deliver (or, where the protocol cannot, drop) the partial message held, discard the rest
    // of its frame as it arrives, and free the memory. Afterwards the holder holds nothing.
    virtual void cutPartial() = 0;
  };

  using Slot = uint32_t;

  // `limit` must be at least the largest `maxHeld` passed to makeRoom(); the options make sure.
  explicit PartialBudget(uint64_t limit) : limit_(limit) {}
  PartialBudget(const PartialBudget&) = delete;
  PartialBudget& operator=(const PartialBudget&) = delete;

  // A new connection, holding nothing. `holder` must stay valid until leave().
  [[nodiscard]] Slot join(Holder& holder);
  // The connection is gone; what it held is released.
  void leave(Slot slot);
  // The connection now holds `bytes`.
  void update(Slot slot, uint64_t bytes);

  // Before `reader` reads: cuts the largest holders (`reader` itself when it holds the most)
  // until reader can grow to `maxHeld` bytes within the limit. Returns the number of cuts.
  size_t makeRoom(Slot reader, uint64_t maxHeld);

  uint64_t held(Slot slot) const { return slots_[slot].bytes; }
  uint64_t total() const { return total_; }
  uint64_t limit() const { return limit_; }
  size_t holders() const { return heap_.size(); }

 private:
  struct Entry {
    Holder* holder = nullptr;  // null: a free slot
    uint64_t bytes = 0;
    size_t heapIndex = 0;
  };

  void siftUp(size_t index);
  void siftDown(size_t index);
  void place(size_t index, Slot slot);
  bool above(Slot a, Slot b) const { return slots_[a].bytes > slots_[b].bytes; }

  uint64_t limit_;
  uint64_t total_ = 0;
  std::vector<Entry> slots_;
  std::vector<Slot> free_;
  // Invariant: a max-heap of the joined slots by bytes; slots_[heap_[i]].heapIndex == i.
  std::vector<Slot> heap_;
};

}  // namespace kinesyslog::net
