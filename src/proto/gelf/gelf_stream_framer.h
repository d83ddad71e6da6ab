#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kinesyslog::gelf {

// Receives each frame the framer completes.
class GelfFrameSink {
 public:
  virtual ~GelfFrameSink() = default;
  // `frame` is never empty and is valid only during the call: it points either into the bytes
  // given to feed() or into the framer's own buffer. `incomplete`: the peer closed before the
  // frame's terminator.
  virtual void onGelfFrame(std::string_view frame, bool incomplete) = 0;
};

struct GelfFramerCounters {
  uint64_t frames = 0;          // frames delivered (incomplete ones included)
  uint64_t emptySkipped = 0;    // empty frames (two terminators in a row)
  uint64_t oversize = 0;        // frames longer than the maximum: dropped whole
  uint64_t discardedBytes = 0;  // the bytes of those frames and of cut ones
  uint64_t incomplete = 0;      // a frame cut short by the peer closing
  uint64_t budgetCuts = 0;      // partial frames dropped by the partial-message budget
};

// Splits a GELF TCP or TLS byte stream into messages. GELF 1.1 "GELF via TCP": each message
// ends with a NUL byte; like kinesyslog 2.x, an LF ends one too (docs/design.md "Inputs"), so
// newline- delimited JSON senders work. A frame longer than the maximum is dropped, never truncated
// (truncated JSON is useless), and counted with its bytes; the stream resynchronises at the next
// terminator. When the peer closes mid-frame, finish() delivers what arrived flagged
// `incomplete`, as for syslog (the relay does not lose bytes it read): an unterminated last
// message is often complete JSON, and one that is not is relayed and counted as invalid JSON
// by the event builder. cutPartial() (the partial-message budget is short) drops the partial
// frame like an oversize one.
//
// Pure and incremental: no I/O, no clock. Any split of the stream into feed() calls yields the
// same frames and counters. A frame that lies wholly inside one feed() call is handed out as a
// view into the caller's bytes (zero copy); only the head of a frame that continues in a later
// call is copied, into a buffer that never holds more than maxMessageSize bytes. Not
// thread-safe; one per connection.
class GelfStreamFramer {
 public:
  // `maxMessageSize` is the --max-message-size option; a value of 0 is treated as 1.
  explicit GelfStreamFramer(size_t maxMessageSize);

  void feed(std::string_view bytes, GelfFrameSink& sink);
  // The peer closed: delivers the partial frame, if any, and resets to the start of a stream.
  void finish(GelfFrameSink& sink);

  // The partial-message budget needs the room: drops the partial frame, if any (truncated JSON
  // is useless, as for an oversize frame), counts it in budgetCuts and its bytes in
  // discardedBytes, discards the rest of the frame up to its terminator, and frees the buffer.
  void cutPartial();

  // Bytes of a partial frame held between feed() calls: what the shared partial-message budget
  // charges. At most maxMessageSize.
  size_t bufferedBytes() const { return buffer_.size(); }
  size_t heldBytes() const { return buffer_.size(); }
  // The buffer's memory: at most maxMessageSize, and at most a quarter more than heldBytes() (or
  // the 4 KiB kept for reuse); 0 once a frame that needed more than 4 KiB is out, and after
  // cutPartial().
  size_t memoryHeld() const { return buffer_.capacity(); }
  const GelfFramerCounters& counters() const { return counters_; }

 private:
  void append(const char* p, size_t n);
  void releaseBuffer();
  std::string_view held() const { return std::string_view(buffer_.data(), buffer_.size()); }

  size_t maxMessageSize_;
  // Invariant: size() <= capacity() <= maxMessageSize_ (grown only by reserve(), which
  // libstdc++ honours exactly for a vector); empty while discarding_.
  std::vector<char> buffer_;
  bool discarding_ = false;  // inside an oversize or cut frame, up to its terminator
  GelfFramerCounters counters_;
};

}  // namespace kinesyslog::gelf
