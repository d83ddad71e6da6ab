#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/internal_error.h"
#include "record/batch_journal.h"

namespace kinesyslog::record {

// One event of a batch; its message bytes live in the batch's arena.
struct EventRef {
  int64_t timestampMs;  // milliseconds since the Unix epoch (docs/design.md "Events")
  uint32_t offset;      // first message byte in SourceBatch::arena
  uint32_t length;      // message bytes
};

// What an I/O thread hands to the encoder when it flushes one (source, group) buffer: all
// events of one logStream in one logGroup, in arrival order. Ownership moves with the batch
// (it is never copied); the encoder only reads it.
//
// Invariant: every EventRef lies inside `arena` (offset + length <= arena.size()); the arena
// stays below 4 GiB, far above any flush size the options allow.
struct SourceBatch {
  std::string group;   // logGroup, e.g. "syslog_message" or "prefix/syslog/514"
  std::string stream;  // logStream: the source address in canonical text
  std::string arena;   // message bytes back to back: rewritten and truncated, NOT JSON-escaped
  std::vector<EventRef> events;
  // Where the batch's messages are journaled; journal is null when the journal is off or the
  // batch has no message yet.
  JournalTicket journal;

  // Bytes of message text held; what --flush-size counts.
  size_t messageBytes() const { return arena.size(); }

  std::string_view message(const EventRef& e) const {
    // Never read past the arena should the invariant ever break: the message reads as empty.
    if (KINESYSLOG_BUG_IF(static_cast<size_t>(e.offset) + e.length > arena.size(),
                          "batch event past its arena")) {
      return {};
    }
    return std::string_view(arena.data() + e.offset, e.length);
  }

  // Copies one message into the arena: the one copy a message gets on the hot path.
  void addEvent(int64_t timestampMs, std::string_view text) {
    // 32-bit offsets: past 4 GiB they would wrap and point at other messages' bytes. The flush
    // size keeps a batch far below; should it not, the message is dropped, never misplaced.
    if (KINESYSLOG_BUG_IF(arena.size() + text.size() > std::numeric_limits<uint32_t>::max(),
                          "batch arena past 4 GiB")) {
      return;
    }
    events.push_back(EventRef{timestampMs, static_cast<uint32_t>(arena.size()),
                              static_cast<uint32_t>(text.size())});
    arena.append(text);
  }

  // Empties the batch but keeps its buffers' capacity for reuse.
  void clear() {
    arena.clear();
    events.clear();
    journal = JournalTicket{};
  }
};

}  // namespace kinesyslog::record
