#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kinesyslog::syslog {

// How a message left the framer. Bit flags: a message can be both truncated and incomplete.
enum class FrameFlags : uint8_t { kNone = 0, kTruncated = 1, kIncomplete = 2 };

constexpr FrameFlags operator|(FrameFlags a, FrameFlags b) {
  return static_cast<FrameFlags>(static_cast<uint8_t>(a) | static_cast<uint8_t>(b));
}

// True when `set` holds the flag `f` (never true for kNone).
constexpr bool hasFlag(FrameFlags set, FrameFlags f) {
  return (static_cast<uint8_t>(set) & static_cast<uint8_t>(f)) != 0;
}

// Receives each message the framer completes.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // `message` is never empty and is valid only during the call: it points either into the bytes
  // given to feed() or into the framer's own buffer. Copy what must outlive the call.
  virtual void onFrame(std::string_view message, FrameFlags flags) = 0;
};

struct FramerCounters {
  uint64_t octetCounted = 0;    // messages framed by octet counting
  uint64_t nonTransparent = 0;  // messages framed by a trailer
  uint64_t emptySkipped = 0;    // empty non-transparent frames
  uint64_t truncated = 0;       // messages cut to the maximum size
  uint64_t discardedBytes = 0;  // bytes dropped past the maximum size
  uint64_t incomplete = 0;      // frames cut short by the peer closing
  uint64_t budgetCuts = 0;      // partial messages cut by the partial-message budget
};

// Splits one TCP or TLS byte stream into syslog messages, detecting RFC 6587 framing per frame:
//  - octet counting (RFC 6587 §3.4.1): a frame that starts with `[1-9][0-9]{0,8} SP` carries
//    exactly that many bytes, whatever they contain (LF and NUL included);
//  - non-transparent framing (RFC 6587 §3.4.2): anything else, ended by LF, NUL or CR (the set
//    the Python seed accepted). Empty frames, such as the LF of a CRLF pair, are skipped.
// A message longer than the maximum size keeps its first maxMessageSize bytes (flagged
// kTruncated) and the rest of its frame is discarded and counted. Nothing else that was read is
// ever dropped: finish() delivers a partial frame flagged kIncomplete, and cutPartial() (the
// partial-message budget is short) delivers the partial message flagged kTruncated and discards
// the rest of its frame, as for an oversize message.
//
// Pure and incremental: no I/O, no clock. Any split of the stream into feed() calls yields the
// same messages, flags and counters. A message that lies wholly inside one feed() call is passed
// to the sink as a view into the caller's bytes (zero copy); only the head of a message that
// continues in a later call is copied, into a buffer that never holds more than maxMessageSize
// bytes (plus at most 9 digits of a pending length prefix). Not thread-safe; one per connection.
class StreamFramer {
 public:
  // `maxMessageSize` is the --max-message-size option; a value of 0 is treated as 1.
  explicit StreamFramer(size_t maxMessageSize);

  // Frames `bytes`, the next piece of the stream, calling `sink` for each completed message.
  void feed(std::string_view bytes, FrameSink& sink);

  // The peer closed: delivers the partial frame, if any, flagged kIncomplete, and resets the
  // framer to the start of a new stream.
  void finish(FrameSink& sink);

  // The partial-message budget needs the room: delivers the partial message, if any, flagged
  // kTruncated (counted in truncated and budgetCuts), discards the rest of its frame (RFC 6587
  // §3.4.1: the remaining count; §3.4.2: up to the next trailer) and frees the buffer. Digits of
  // a pending count are kept: they are no message yet and cost no memory (see memoryHeld()).
  void cutPartial(FrameSink& sink);

  // Bytes of a partial message held between feed() calls, pending count digits included. At
  // most maxMessageSize + 9.
  size_t bufferedBytes() const { return buffer_.size() + digitCount_; }
  // Bytes of the partial message held in the buffer: what the shared partial-message budget
  // charges. The digits of a pending count live in the framer itself and are not charged.
  size_t heldBytes() const { return buffer_.size(); }
  // The buffer's memory: at most maxMessageSize, and at most a quarter more than heldBytes() (or
  // the 4 KiB kept for reuse); 0 once a frame that needed more than 4 KiB is out, and after
  // cutPartial().
  size_t memoryHeld() const { return buffer_.capacity(); }

  const FramerCounters& counters() const { return counters_; }

 private:
  // RFC 6587 §3.4.1: MSG-LEN = NONZERO-DIGIT 0*8DIGIT (at most 9 digits).
  static constexpr size_t kMaxLengthDigits = 9;

  enum class State : uint8_t {
    kFrameStart,    // between frames
    kLengthDigits,  // digits seen at a frame start, no space yet: a count or the start of text
    kOctetBody,     // inside an octet-counted frame, keeping its bytes
    kOctetDiscard,  // inside an octet-counted frame, past the maximum size
    kLine,          // inside a non-transparent frame
    kLineDiscard,   // inside a non-transparent frame cut by cutPartial(), up to its trailer
  };

  const char* startFrame(const char* p, const char* end);
  const char* continueLength(const char* p, const char* end);
  const char* readOctetBody(const char* p, const char* end, FrameSink& sink);
  const char* discardOctets(const char* p, const char* end);
  const char* discardLine(const char* p, const char* end);
  const char* readLine(const char* p, const char* end, FrameSink& sink);

  void startOctetFrame(uint64_t length);
  void appendLine(const char* p, size_t n);
  void appendBounded(const char* p, size_t n);
  void emit(std::string_view message, FrameFlags flags, FrameSink& sink);
  void endFrame();
  void releaseBuffer();
  std::string_view held() const { return std::string_view(buffer_.data(), buffer_.size()); }

  size_t maxMessageSize_;
  State state_ = State::kFrameStart;
  // Invariant: size() <= capacity() <= maxMessageSize_ (grown only by reserve(), which
  // libstdc++ honours exactly for a vector). kLine: the message so far (never empty once a byte
  // of the line was consumed); kOctetBody: the body so far; otherwise empty.
  std::vector<char> buffer_;
  char digits_[kMaxLengthDigits] = {};
  size_t digitCount_ = 0;          // kLengthDigits: digits held in digits_
  uint64_t keepRemaining_ = 0;     // kOctetBody: body bytes still to keep
  uint64_t discardRemaining_ = 0;  // kOctetBody/kOctetDiscard: bytes of the frame to drop
  bool truncated_ = false;         // the current frame is longer than the maximum
  FramerCounters counters_;
};

}  // namespace kinesyslog::syslog
