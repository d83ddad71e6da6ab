// Fuzz target for the RFC 6587 stream framer.
// Input layout: byte 0 chooses where the stream is split in two, byte 1 chooses the maximum
// message size, the rest is the TCP stream. The split feed, a one-byte-at-a-time feed, a
// one-shot feed and (for streams up to 128 bytes) a feed split in two at every point must give
// the same messages, flags and counters; no message may be empty or
// exceed the maximum; the buffer must stay within the maximum plus a pending length prefix, its
// memory within the maximum; and delivered plus discarded bytes can never exceed what was read.
// A run with a partial-message budget cut at the split point must free the memory, deliver
// what came before the split as the split run does, add at most the one truncated message, and
// keep the same bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/syslog/stream_framer.h"

namespace {

using kinesyslog::syslog::FrameFlags;
using kinesyslog::syslog::FramerCounters;
using kinesyslog::syslog::FrameSink;
using kinesyslog::syslog::StreamFramer;

constexpr size_t kMaxSizes[] = {1, 2, 3, 8, 16, 64, 256, 65536};

struct Frame {
  std::string message;
  FrameFlags flags;
  bool operator==(const Frame&) const = default;
};

class CollectingSink : public FrameSink {
 public:
  explicit CollectingSink(size_t maxSize) : maxSize_(maxSize) {}
  void onFrame(std::string_view message, FrameFlags flags) override {
    if (message.empty() || message.size() > maxSize_) __builtin_trap();
    frames.push_back({std::string(message), flags});
  }
  std::vector<Frame> frames;

 private:
  size_t maxSize_;
};

struct Run {
  std::vector<Frame> frames;
  FramerCounters counters;
};

bool sameCounters(const FramerCounters& a, const FramerCounters& b) {
  return a.octetCounted == b.octetCounted && a.nonTransparent == b.nonTransparent &&
         a.emptySkipped == b.emptySkipped && a.truncated == b.truncated &&
         a.discardedBytes == b.discardedBytes && a.incomplete == b.incomplete &&
         a.budgetCuts == b.budgetCuts;
}

Run frame(std::string_view stream, size_t maxSize, const std::vector<size_t>& cuts) {
  StreamFramer framer(maxSize);
  CollectingSink sink(maxSize);
  size_t from = 0;
  auto feedTo = [&](size_t to) {
    framer.feed(stream.substr(from, to - from), sink);
    if (framer.bufferedBytes() > maxSize + 9 || framer.memoryHeld() > maxSize) __builtin_trap();
    from = to;
  };
  for (size_t cut : cuts) feedTo(cut);
  feedTo(stream.size());
  framer.finish(sink);
  if (framer.bufferedBytes() != 0) __builtin_trap();
  return {std::move(sink.frames), framer.counters()};
}

// Feeds stream[0, at), cuts as the budget would, feeds the rest and finishes. `beforeCut`: the
// number of messages delivered before the cut.
Run frameWithBudgetCut(std::string_view stream, size_t maxSize, size_t at, size_t& beforeCut) {
  StreamFramer framer(maxSize);
  CollectingSink sink(maxSize);
  framer.feed(stream.substr(0, at), sink);
  beforeCut = sink.frames.size();
  framer.cutPartial(sink);
  if (framer.memoryHeld() != 0 || framer.counters().budgetCuts != sink.frames.size() - beforeCut) {
    __builtin_trap();
  }
  if (sink.frames.size() > beforeCut &&
      !kinesyslog::syslog::hasFlag(sink.frames.back().flags, FrameFlags::kTruncated)) {
    __builtin_trap();
  }
  framer.feed(stream.substr(at), sink);
  if (framer.memoryHeld() > maxSize) __builtin_trap();
  framer.finish(sink);
  return {std::move(sink.frames), framer.counters()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t split = stream.size() * data[0] / 255;
  const size_t maxSize = kMaxSizes[data[1] % (sizeof kMaxSizes / sizeof kMaxSizes[0])];

  const Run whole = frame(stream, maxSize, {});
  const Run halves = frame(stream, maxSize, {split});
  if (halves.frames != whole.frames || !sameCounters(halves.counters, whole.counters)) {
    __builtin_trap();
  }
  // Octet counting and LF framing alike: a short stream (128 bytes hold several messages of
  // either framing) cut in two at every point gives the same messages as in one piece.
  if (stream.size() <= 128) {
    for (size_t at = 0; at <= stream.size(); ++at) {
      const Run two = frame(stream, maxSize, {at});
      if (two.frames != whole.frames || !sameCounters(two.counters, whole.counters)) {
        __builtin_trap();
      }
    }
  }
  if (stream.size() <= 4096) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
    const Run bytes = frame(stream, maxSize, cuts);
    if (bytes.frames != whole.frames || !sameCounters(bytes.counters, whole.counters)) {
      __builtin_trap();
    }
  }

  size_t beforeCut = 0;
  const Run cut = frameWithBudgetCut(stream, maxSize, split, beforeCut);
  // Up to the cut, the same messages as any other split; the cut adds at most one.
  if (beforeCut > halves.frames.size() || cut.counters.budgetCuts > 1) __builtin_trap();
  for (size_t i = 0; i < beforeCut; ++i) {
    if (cut.frames[i] != halves.frames[i]) __builtin_trap();
  }

  for (const Run* run : {&whole, &cut}) {
    size_t delivered = 0;
    uint64_t truncated = 0;
    uint64_t incomplete = 0;
    for (const Frame& f : run->frames) {
      delivered += f.message.size();
      truncated += kinesyslog::syslog::hasFlag(f.flags, FrameFlags::kTruncated);
      incomplete += kinesyslog::syslog::hasFlag(f.flags, FrameFlags::kIncomplete);
    }
    const FramerCounters& c = run->counters;
    if (delivered + c.discardedBytes > stream.size()) __builtin_trap();
    if (c.octetCounted + c.nonTransparent != run->frames.size()) __builtin_trap();
    if (truncated != c.truncated || incomplete > c.incomplete || c.incomplete > 1) {
      __builtin_trap();
    }
  }
  return 0;
}
