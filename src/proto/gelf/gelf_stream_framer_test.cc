#include "proto/gelf/gelf_stream_framer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace kinesyslog::gelf {
namespace {

using namespace std::string_literals;

struct Frame {
  std::string text;
  bool incomplete = false;
  bool operator==(const Frame&) const = default;
};

void PrintTo(const Frame& f, std::ostream* os) {
  *os << '"' << f.text << '"' << (f.incomplete ? " (incomplete)" : "");
}

auto fields(const GelfFramerCounters& c) {
  return std::make_tuple(c.frames, c.emptySkipped, c.oversize, c.discardedBytes, c.incomplete,
                         c.budgetCuts);
}

class CollectingSink : public GelfFrameSink {
 public:
  void onGelfFrame(std::string_view frame, bool incomplete) override {
    EXPECT_FALSE(frame.empty());
    frames.push_back({std::string(frame), incomplete});
    views.push_back(frame.data());
  }
  std::vector<Frame> frames;
  std::vector<const char*> views;
};

struct Result {
  std::vector<Frame> frames;
  GelfFramerCounters counters;
  size_t maxBuffered = 0;
};

Result frameWithCuts(std::string_view stream, size_t maxSize, const std::vector<size_t>& cuts) {
  GelfStreamFramer framer(maxSize);
  CollectingSink sink;
  Result r;
  size_t from = 0;
  auto feedTo = [&](size_t to) {
    framer.feed(stream.substr(from, to - from), sink);
    r.maxBuffered = std::max(r.maxBuffered, framer.bufferedBytes());
    EXPECT_LE(framer.memoryHeld(), std::max<size_t>(maxSize, 1));  // what the budget charges
    from = to;
  };
  for (size_t cut : cuts) feedTo(cut);
  feedTo(stream.size());
  framer.finish(sink);
  EXPECT_EQ(framer.bufferedBytes(), 0u);
  r.frames = sink.frames;
  r.counters = framer.counters();
  return r;
}

Result frameWhole(std::string_view stream, size_t maxSize = 65536) {
  return frameWithCuts(stream, maxSize, {});
}

// Every split into two pieces, and byte by byte, gives what one feed gives.
void expectSplitInvariant(std::string_view stream, size_t maxSize) {
  const Result whole = frameWhole(stream, maxSize);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    const Result split = frameWithCuts(stream, maxSize, {cut});
    ASSERT_EQ(split.frames, whole.frames) << "cut at " << cut;
    ASSERT_EQ(fields(split.counters), fields(whole.counters)) << "cut at " << cut;
    ASSERT_LE(split.maxBuffered, maxSize);
  }
  std::vector<size_t> everyByte;
  for (size_t i = 1; i < stream.size(); ++i) everyByte.push_back(i);
  const Result bytes = frameWithCuts(stream, maxSize, everyByte);
  EXPECT_EQ(bytes.frames, whole.frames);
  EXPECT_EQ(fields(bytes.counters), fields(whole.counters));
}

constexpr std::string_view kA = R"({"version":"1.1","host":"a","short_message":"one"})";
constexpr std::string_view kB = R"({"version":"1.1","host":"b","short_message":"two"})";

TEST(GelfStreamFramerTest, NulTerminatedFrames) {
  const std::string stream = std::string(kA) + '\0' + std::string(kB) + '\0';
  const Result r = frameWhole(stream);
  EXPECT_EQ(r.frames, (std::vector<Frame>{{std::string(kA)}, {std::string(kB)}}));
  EXPECT_EQ(r.counters.frames, 2u);
  EXPECT_EQ(r.counters.incomplete, 0u);
}

TEST(GelfStreamFramerTest, LfTerminatedFramesAndMixes) {
  const std::string stream = std::string(kA) + '\n' + std::string(kB) + "\r\n" + "x\0"s;
  const Result r = frameWhole(stream);
  // A CR before the LF stays in the frame; the event builder strips trailing CR/LF/NUL.
  EXPECT_EQ(r.frames, (std::vector<Frame>{{std::string(kA)}, {std::string(kB) + "\r"}, {"x"}}));
}

TEST(GelfStreamFramerTest, EmptyFramesAreSkippedAndCounted) {
  const Result r = frameWhole("\0\0\n{}\0\n\0"s);
  EXPECT_EQ(r.frames, (std::vector<Frame>{{"{}"}}));
  EXPECT_EQ(r.counters.emptySkipped, 5u);
}

TEST(GelfStreamFramerTest, WholeFramesAreViewsIntoTheInput) {
  const std::string stream = std::string(kA) + '\0' + std::string(kB) + '\0';
  GelfStreamFramer framer(65536);
  CollectingSink sink;
  framer.feed(stream, sink);
  ASSERT_EQ(sink.views.size(), 2u);
  EXPECT_EQ(sink.views[0], stream.data());
  EXPECT_EQ(sink.views[1], stream.data() + kA.size() + 1);
}

TEST(GelfStreamFramerTest, PartialFrameAtCloseIsDeliveredAndFlagged) {
  const Result r = frameWhole(std::string(kA) + '\0' + std::string(kB));
  EXPECT_EQ(r.frames, (std::vector<Frame>{{std::string(kA)}, {std::string(kB), true}}));
  EXPECT_EQ(r.counters.incomplete, 1u);
  EXPECT_EQ(r.counters.frames, 2u);
}

TEST(GelfStreamFramerTest, OversizeFrameIsDroppedWholeNotTruncated) {
  const std::string big(101, 'x');
  const std::string stream = "ok\0"s + big + '\0' + "after\0"s;
  const Result r = frameWhole(stream, 100);
  EXPECT_EQ(r.frames, (std::vector<Frame>{{"ok"}, {"after"}}));
  EXPECT_EQ(r.counters.oversize, 1u);
  EXPECT_EQ(r.counters.discardedBytes, 101u);
  // Exactly the maximum is a frame.
  const Result fits = frameWhole(std::string(100, 'y') + '\n', 100);
  EXPECT_EQ(fits.frames, (std::vector<Frame>{{std::string(100, 'y')}}));
  EXPECT_EQ(fits.counters.oversize, 0u);
}

TEST(GelfStreamFramerTest, OversizeFrameAtCloseIsNotDelivered) {
  const Result r = frameWhole("ok\n"s + std::string(250, 'z'), 100);
  EXPECT_EQ(r.frames, (std::vector<Frame>{{"ok"}}));
  EXPECT_EQ(r.counters.oversize, 1u);
  EXPECT_EQ(r.counters.discardedBytes, 250u);
  EXPECT_EQ(r.counters.incomplete, 1u);
}

TEST(GelfStreamFramerTest, EverySplitPointGivesTheSameFrames) {
  const std::string stream = std::string(kA) + '\0' + "\n\n"s + std::string(kB) + "\r\n" +
                             std::string(40, 'o') + '\0' + "tail";
  expectSplitInvariant(stream, 65536);
  expectSplitInvariant(stream, 39);  // the 40-byte frame and kA/kB are oversize here
  expectSplitInvariant(stream, 40);
  expectSplitInvariant(stream, 1);
}

TEST(GelfStreamFramerTest, RandomStreamsKeepTheSplitInvariant) {
  std::mt19937 rng(12);
  const char alphabet[] = {'a', '{', '"', '\0', '\n', '\r', 'z'};
  for (int round = 0; round < 200; ++round) {
    std::string stream(rng() % 120, ' ');
    for (char& c : stream) c = alphabet[rng() % sizeof alphabet];
    expectSplitInvariant(stream, 1 + rng() % 30);
  }
}

TEST(GelfStreamFramerTest, BufferNeverPassesTheMaximum) {
  GelfStreamFramer framer(1000);
  CollectingSink sink;
  std::string chunk(300, 'q');
  for (int i = 0; i < 10; ++i) {
    framer.feed(chunk, sink);
    EXPECT_LE(framer.bufferedBytes(), 1000u);
  }
  framer.feed("\0"s, sink);
  EXPECT_TRUE(sink.frames.empty());
  EXPECT_EQ(framer.counters().oversize, 1u);
  EXPECT_EQ(framer.counters().discardedBytes, 3000u);
  framer.feed("next\0"s, sink);
  EXPECT_EQ(sink.frames, (std::vector<Frame>{{"next"}}));
}

TEST(GelfStreamFramerTest, FinishResetsForANewStream) {
  GelfStreamFramer framer(100);
  CollectingSink sink;
  framer.feed("abc", sink);
  framer.finish(sink);
  framer.feed("def\0"s, sink);
  EXPECT_EQ(sink.frames, (std::vector<Frame>{{"abc", true}, {"def"}}));
}

// ---------------------------------------------------------------------------------------------
// Cuts by the partial-message budget (cutPartial)

TEST(GelfStreamFramerTest, BudgetCutAtEverySplitPointDropsTheFrameHeld) {
  // Three frames: [0, 52) kA NUL, [52, 104) kB LF, [104, 111) "tail" NUL... then "end" NUL.
  const std::string stream = std::string(kA) + '\0' + std::string(kB) + '\n' + "{\"t\":1}\0end\0"s;
  struct Span {
    size_t start, end;  // end: after the terminator
  };
  std::vector<Span> spans;
  for (size_t start = 0, i = 0; i < stream.size(); ++i) {
    if (stream[i] == '\0' || stream[i] == '\n') {
      spans.push_back({start, i + 1});
      start = i + 1;
    }
  }
  ASSERT_EQ(spans.size(), 4u);
  const Result whole = frameWhole(stream);
  for (size_t at = 0; at <= stream.size(); ++at) {
    GelfStreamFramer framer(65536);
    CollectingSink sink;
    framer.feed(std::string_view(stream).substr(0, at), sink);
    framer.cutPartial();
    EXPECT_EQ(framer.memoryHeld(), 0u) << "cut at " << at;
    framer.feed(std::string_view(stream).substr(at), sink);  // the rest, then the next frames
    framer.finish(sink);
    std::vector<Frame> want;
    GelfFramerCounters counters = whole.counters;
    for (size_t i = 0; i < spans.size(); ++i) {
      if (at > spans[i].start && at < spans[i].end) {
        // Inside this frame, before its terminator: dropped whole, never truncated.
        --counters.frames;
        ++counters.budgetCuts;
        counters.discardedBytes += spans[i].end - 1 - spans[i].start;
      } else {
        want.push_back(whole.frames[i]);
      }
    }
    EXPECT_EQ(sink.frames, want) << "cut at " << at;
    EXPECT_EQ(fields(framer.counters()), fields(counters)) << "cut at " << at;
  }
}

TEST(GelfStreamFramerTest, BudgetCutThenCloseIsIncompleteAndDeliversNothing) {
  GelfStreamFramer framer(65536);
  CollectingSink sink;
  framer.feed(std::string(60'000, '{'), sink);
  EXPECT_EQ(framer.memoryHeld(), 60'000u);
  framer.cutPartial();
  framer.feed(std::string(10, '{'), sink);
  EXPECT_EQ(framer.memoryHeld(), 0u);
  framer.finish(sink);
  EXPECT_TRUE(sink.frames.empty());
  EXPECT_EQ(framer.counters().budgetCuts, 1u);
  EXPECT_EQ(framer.counters().incomplete, 1u);
  EXPECT_EQ(framer.counters().discardedBytes, 60'010u);
}

TEST(GelfStreamFramerTest, BudgetCutHoldingNoFrameOnlyFreesMemory) {
  GelfStreamFramer framer(100);
  CollectingSink sink;
  framer.feed("ab", sink);
  framer.feed("c\0"s, sink);
  EXPECT_GT(framer.memoryHeld(), 0u);  // kept for the next split frame
  framer.cutPartial();
  EXPECT_EQ(framer.memoryHeld(), 0u);
  framer.feed("next\0"s, sink);
  EXPECT_EQ(sink.frames, (std::vector<Frame>{{"abc"}, {"next"}}));
  EXPECT_EQ(framer.counters().budgetCuts, 0u);
}

}  // namespace
}  // namespace kinesyslog::gelf
