// Fuzz target for the GELF TCP input: the NUL/LF framer and the GELF event builder.
// Input layout: byte 0 chooses where the stream is split in two, byte 1 chooses the maximum
// message size, the rest is the TCP stream. The split feed, a one-byte-at-a-time feed and a
// one-shot feed must give the same frames and counters; no frame may be empty or exceed the
// maximum; the framer's buffer and its memory must stay within the maximum; delivered plus
// discarded bytes can never exceed what was read. A run with a partial-message budget cut at
// the split point must free the memory, deliver what came before the split as the split run
// does, deliver nothing for the cut frame, and keep the same bounds. Every frame then goes through
// the event builder: the event must hold the frame's bytes exactly (less trailing CR/LF/NUL), its
// time must be the receive time or a valid GELF timestamp, and the findings must not depend on what
// the bytes after the message hold (simdjson's padding may contain anything).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "proto/gelf/gelf_event.h"
#include "proto/gelf/gelf_stream_framer.h"
#include "proto/gelf/gelf_timestamp.h"
#include "proto/syslog/datagram.h"

namespace {

using kinesyslog::gelf::GelfFindings;
using kinesyslog::gelf::GelfFramerCounters;
using kinesyslog::gelf::GelfFrameSink;
using kinesyslog::gelf::GelfParser;
using kinesyslog::gelf::GelfStreamFramer;

constexpr size_t kMaxSizes[] = {1, 2, 3, 8, 16, 64, 256, 65536};
constexpr int64_t kReceiveMicros = 1'700'000'000'000'000;

struct Frame {
  std::string text;
  bool incomplete;
  bool operator==(const Frame&) const = default;
};

class CollectingSink : public GelfFrameSink {
 public:
  explicit CollectingSink(size_t maxSize) : maxSize_(maxSize) {}
  void onGelfFrame(std::string_view frame, bool incomplete) override {
    if (frame.empty() || frame.size() > maxSize_) __builtin_trap();
    frames.push_back({std::string(frame), incomplete});
  }
  std::vector<Frame> frames;

 private:
  size_t maxSize_;
};

struct Run {
  std::vector<Frame> frames;
  GelfFramerCounters counters;
};

bool sameCounters(const GelfFramerCounters& a, const GelfFramerCounters& b) {
  return a.frames == b.frames && a.emptySkipped == b.emptySkipped && a.oversize == b.oversize &&
         a.discardedBytes == b.discardedBytes && a.incomplete == b.incomplete &&
         a.budgetCuts == b.budgetCuts;
}

Run frame(std::string_view stream, size_t maxSize, const std::vector<size_t>& cuts) {
  GelfStreamFramer framer(maxSize);
  CollectingSink sink(maxSize);
  size_t from = 0;
  auto feedTo = [&](size_t to) {
    framer.feed(stream.substr(from, to - from), sink);
    if (framer.bufferedBytes() > maxSize || framer.memoryHeld() > maxSize) __builtin_trap();
    from = to;
  };
  for (size_t cut : cuts) feedTo(cut);
  feedTo(stream.size());
  framer.finish(sink);
  if (framer.bufferedBytes() != 0) __builtin_trap();
  return {std::move(sink.frames), framer.counters()};
}

// Feeds stream[0, at), cuts as the budget would, feeds the rest and finishes. `beforeCut`: the
// number of frames delivered before the cut.
Run frameWithBudgetCut(std::string_view stream, size_t maxSize, size_t at, size_t& beforeCut) {
  GelfStreamFramer framer(maxSize);
  CollectingSink sink(maxSize);
  framer.feed(stream.substr(0, at), sink);
  beforeCut = sink.frames.size();
  framer.cutPartial();
  if (framer.memoryHeld() != 0 || framer.counters().budgetCuts > 1) __builtin_trap();
  framer.feed(stream.substr(at), sink);
  if (framer.memoryHeld() > maxSize) __builtin_trap();
  framer.finish(sink);
  return {std::move(sink.frames), framer.counters()};
}

bool sameFindings(const GelfFindings& a, const GelfFindings& b) {
  return a.validJson == b.validJson && a.missingFields == b.missingFields &&
         a.invalidTimestamp == b.invalidTimestamp && a.timestampMs == b.timestampMs;
}

// The findings for `json` with its padding filled with `fill`.
GelfFindings checkWithPadding(GelfParser& parser, std::string_view json, char fill) {
  std::vector<char> buffer(json.size() + 64, fill);
  std::memcpy(buffer.data(), json.data(), json.size());
  return parser.check(std::string_view(buffer.data(), json.size()), buffer.size());
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
  if (beforeCut > halves.frames.size()) __builtin_trap();
  for (size_t i = 0; i < beforeCut; ++i) {
    if (cut.frames[i] != halves.frames[i]) __builtin_trap();
  }
  // A cut frame is dropped, never delivered: at most one frame fewer than without the cut (none
  // fewer when that frame was to be dropped as oversize anyway).
  if (cut.frames.size() > halves.frames.size() ||
      cut.frames.size() + cut.counters.budgetCuts < halves.frames.size()) {
    __builtin_trap();
  }
  for (const Run* run : {&whole, &cut}) {
    size_t delivered = 0;
    for (const Frame& f : run->frames) delivered += f.text.size();
    const GelfFramerCounters& c = run->counters;
    if (delivered + c.discardedBytes > stream.size()) __builtin_trap();
    if (c.frames != run->frames.size() || c.incomplete > 1) __builtin_trap();
  }

  static GelfParser parser(65536);
  kinesyslog::record::SourceBatch batch;
  for (const Frame& f : whole.frames) {
    const size_t before = batch.events.size();
    const auto appended =
        kinesyslog::gelf::appendGelfEvent(batch, f.text, kReceiveMicros, parser, maxSize);
    if (appended.oversize) __builtin_trap();  // the framer already dropped those
    const std::string_view expected = kinesyslog::syslog::stripTrailingNewlines(f.text);
    if (appended.bytes != expected.size()) __builtin_trap();
    if (appended.bytes == 0) {
      if (batch.events.size() != before) __builtin_trap();
      continue;
    }
    const auto& event = batch.events.back();
    if (batch.message(event) != expected) __builtin_trap();
    const GelfFindings& found = appended.findings;
    if (found.timestampMs) {
      if (!found.validJson || *found.timestampMs < 0 ||
          *found.timestampMs > kinesyslog::gelf::kMaxTimestampMillis ||
          event.timestampMs != *found.timestampMs) {
        __builtin_trap();
      }
    } else if (event.timestampMs != kReceiveMicros / 1000) {
      __builtin_trap();
    }
    if (!found.validJson && (found.missingFields || found.invalidTimestamp)) __builtin_trap();
    for (char fill : {'\0', '"', '1', '}', ' ', '\\'}) {
      if (!sameFindings(checkWithPadding(parser, expected, fill), found)) __builtin_trap();
    }
  }
  return 0;
}
