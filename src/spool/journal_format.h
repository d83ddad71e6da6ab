#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kinesyslog::spool {

// The byte layout of a journal segment (docs/operations.md "Journal"). A segment is a series of
// frames, each written with one write() call:
//   frame   = magic:u32 "KSJ1" | payload length:u32 | CRC-32 of the payload:u32 | payload
//   payload = item*
//   item    = 'B' serial:u64 group length:u16 group stream length:u16 stream   a batch opens
//           | 'E' serial:u64 timestamp ms:i64 length:u32 message              a message joins it
//           | 'S' serial:u64 events spooled:u32         the batch's first N events are spooled
// Integers are little-endian. A frame is whole or it is the torn tail of a crash: the CRC
// (gzip's CRC-32, RFC 1952 §8) tells which, and nothing after a bad frame is trusted.
inline constexpr uint32_t kJournalMagic = 0x314A534B;  // "KSJ1" read as little-endian bytes
inline constexpr size_t kJournalFrameHeaderBytes = 12;
// Longest group or stream name an item can carry (u16 lengths).
inline constexpr size_t kJournalMaxNameBytes = 0xFFFF;

// Builds frames in a caller-owned buffer. begin() reserves the header, the append functions
// add items, finish() fills the header in; the buffer then holds exactly one frame.
void beginJournalFrame(std::string& frame);
void appendJournalBatchOpened(std::string& frame, uint64_t serial, std::string_view group,
                              std::string_view stream);
void appendJournalEvent(std::string& frame, uint64_t serial, int64_t timestampMs,
                        std::string_view message);
void appendJournalSpooled(std::string& frame, uint64_t serial, uint32_t eventsEnd);
// False when nothing was appended since begin() (the frame would be empty).
bool hasJournalItems(const std::string& frame);
void finishJournalFrame(std::string& frame);

// Receives the items of a segment, in order.
class JournalItemSink {
 public:
  virtual ~JournalItemSink() = default;
  virtual void onBatchOpened(uint64_t serial, std::string_view group, std::string_view stream) = 0;
  // `message` points into the parsed bytes.
  virtual void onEvent(uint64_t serial, int64_t timestampMs, std::string_view message) = 0;
  virtual void onSpooled(uint64_t serial, uint32_t eventsEnd) = 0;
};

struct [[nodiscard]] JournalParseResult {
  size_t frames = 0;      // whole frames read
  size_t validBytes = 0;  // bytes of those frames, from the start
  // Why reading stopped before the end ("" when every byte was read): a torn or damaged frame.
  std::string_view problem;
};

// Reads the frames of one segment and hands their items to `sink`. Pure: a bounds-checked
// parser of untrusted bytes (the file may be torn or damaged); it stops at the first frame that
// is incomplete, fails its CRC or holds a malformed item, and items of that frame are not
// delivered.
JournalParseResult parseJournalSegment(std::string_view data, JournalItemSink& sink);

}  // namespace kinesyslog::spool
