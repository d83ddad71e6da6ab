#include "proto/syslog/stream_framer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace kinesyslog::syslog {
namespace {

using namespace std::string_literals;

constexpr FrameFlags kNone = FrameFlags::kNone;
constexpr FrameFlags kTrunc = FrameFlags::kTruncated;
constexpr FrameFlags kInc = FrameFlags::kIncomplete;

struct Frame {
  std::string message;
  FrameFlags flags = FrameFlags::kNone;
  bool operator==(const Frame&) const = default;
};

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void PrintTo(const Frame& f, std::ostream* os) {
  *os << '"' << printable(f.message) << "\" flags=" << static_cast<int>(f.flags);
}

// Counters as a tuple, so gtest compares and prints them.
auto fields(const FramerCounters& c) {
  return std::make_tuple(c.octetCounted, c.nonTransparent, c.emptySkipped, c.truncated,
                         c.discardedBytes, c.incomplete, c.budgetCuts);
}

class CollectingSink : public FrameSink {
 public:
  void onFrame(std::string_view message, FrameFlags flags) override {
    frames.push_back({std::string(message), flags});
  }
  std::vector<Frame> frames;
};

struct Result {
  std::vector<Frame> frames;
  FramerCounters counters;
  size_t maxBuffered = 0;
};

// Feeds `stream` cut at `cuts` (ascending offsets), then finishes.
Result frameWithCuts(std::string_view stream, size_t maxSize, const std::vector<size_t>& cuts) {
  StreamFramer framer(maxSize);
  CollectingSink sink;
  Result r;
  size_t from = 0;
  auto feedTo = [&](size_t to) {
    framer.feed(stream.substr(from, to - from), sink);
    r.maxBuffered = std::max(r.maxBuffered, framer.bufferedBytes());
    // The budget charges the capacity: it never passes the maximum either.
    EXPECT_LE(framer.memoryHeld(), std::max<size_t>(maxSize, 1));
    from = to;
  };
  for (size_t cut : cuts) feedTo(cut);
  feedTo(stream.size());
  framer.finish(sink);
  EXPECT_EQ(framer.bufferedBytes(), 0u);
  r.frames = std::move(sink.frames);
  r.counters = framer.counters();
  return r;
}

Result frameOneShot(std::string_view stream, size_t maxSize) {
  return frameWithCuts(stream, maxSize, {});
}

Result frameByteByByte(std::string_view stream, size_t maxSize) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  return frameWithCuts(stream, maxSize, cuts);
}

// A deliberately naive model of docs/design.md "Inputs" (TCP framing) that sees the whole stream at
// once.
Result referenceFrames(std::string_view s, size_t maxSize) {
  maxSize = std::max<size_t>(maxSize, 1);  // the framer's reading of a zero maximum
  Result r;
  const size_t n = s.size();
  auto isTrailer = [](char c) { return c == '\n' || c == '\0' || c == '\r'; };
  auto isDigit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0;
  while (i < n) {
    if (s[i] >= '1' && s[i] <= '9') {
      size_t j = i;
      while (j < n && j - i < 9 && isDigit(s[j])) ++j;
      if (j < n && s[j] == ' ') {
        uint64_t len = std::stoull(std::string(s.substr(i, j - i)));
        const size_t body = j + 1;
        const uint64_t keep = std::min<uint64_t>(len, maxSize);
        const uint64_t got = n - body;
        if (got >= len) {
          r.frames.push_back({std::string(s.substr(body, keep)), len > keep ? kTrunc : kNone});
          ++r.counters.octetCounted;
          r.counters.truncated += len > keep;
          r.counters.discardedBytes += len - keep;
          i = body + len;
        } else {
          ++r.counters.incomplete;
          if (got >= keep) {
            r.frames.push_back({std::string(s.substr(body, keep)), len > keep ? kTrunc : kNone});
            ++r.counters.octetCounted;
            r.counters.truncated += len > keep;
            r.counters.discardedBytes += got - keep;
          } else if (got > 0) {
            r.frames.push_back({std::string(s.substr(body)), kInc});
            ++r.counters.octetCounted;
          }
          i = n;
        }
        continue;
      }
    }
    if (isTrailer(s[i])) {
      ++r.counters.emptySkipped;
      ++i;
      continue;
    }
    size_t t = i;
    while (t < n && !isTrailer(s[t])) ++t;
    const size_t len = t - i;
    FrameFlags flags = kNone;
    if (len > maxSize) {
      flags = flags | kTrunc;
      ++r.counters.truncated;
      r.counters.discardedBytes += len - maxSize;
    }
    if (t == n) {
      flags = flags | kInc;
      ++r.counters.incomplete;
    }
    ++r.counters.nonTransparent;
    r.frames.push_back({std::string(s.substr(i, std::min(len, maxSize))), flags});
    i = t + 1;
  }
  return r;
}

// Frames `stream` one-shot, split in two at every byte boundary and one byte at a time; all must
// agree with each other and with the reference model. Returns the one-shot result.
Result frameEverySplit(std::string_view stream, size_t maxSize) {
  const Result whole = frameOneShot(stream, maxSize);
  const Result reference = referenceFrames(stream, maxSize);
  EXPECT_EQ(whole.frames, reference.frames) << "stream: " << printable(stream);
  EXPECT_EQ(fields(whole.counters), fields(reference.counters)) << "stream: " << printable(stream);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    const Result split = frameWithCuts(stream, maxSize, {cut});
    EXPECT_EQ(split.frames, whole.frames) << "cut at " << cut << ": " << printable(stream);
    EXPECT_EQ(fields(split.counters), fields(whole.counters))
        << "cut at " << cut << ": " << printable(stream);
    EXPECT_LE(split.maxBuffered, maxSize + 10);
  }
  const Result bytes = frameByteByByte(stream, maxSize);
  EXPECT_EQ(bytes.frames, whole.frames) << "byte by byte: " << printable(stream);
  EXPECT_EQ(fields(bytes.counters), fields(whole.counters))
      << "byte by byte: " << printable(stream);
  EXPECT_LE(bytes.maxBuffered, maxSize + 10);
  return whole;
}

std::vector<Frame> frames(std::initializer_list<Frame> list) {
  return list;
}

constexpr size_t kBig = 65536;

TEST(StreamFramerTest, FlagsCombine) {
  const FrameFlags both = kTrunc | kInc;
  EXPECT_TRUE(hasFlag(both, kTrunc));
  EXPECT_TRUE(hasFlag(both, kInc));
  EXPECT_FALSE(hasFlag(kTrunc, kInc));
  EXPECT_FALSE(hasFlag(kNone, kNone));
}

TEST(StreamFramerTest, OctetCounted) {
  const Result r = frameEverySplit("5 hello11 hello world", kBig);
  EXPECT_EQ(r.frames, frames({{"hello", kNone}, {"hello world", kNone}}));
  EXPECT_EQ(r.counters.octetCounted, 2u);
  EXPECT_EQ(r.counters.nonTransparent, 0u);
}

TEST(StreamFramerTest, OctetCountedBodyIsEmittedAsIs) {
  // Trailing LF/NUL inside the count belong to the message; the event builder strips them.
  const Result r = frameEverySplit("6 a\nb\0c\n3 \0\0\0"s, kBig);
  EXPECT_EQ(r.frames, frames({{"a\nb\0c\n"s, kNone}, {"\0\0\0"s, kNone}}));
  EXPECT_EQ(r.counters.octetCounted, 2u);
}

TEST(StreamFramerTest, LfFramed) {
  const Result r = frameEverySplit("<13>one\n<13>two\n", kBig);
  EXPECT_EQ(r.frames, frames({{"<13>one", kNone}, {"<13>two", kNone}}));
  EXPECT_EQ(r.counters.nonTransparent, 2u);
  EXPECT_EQ(r.counters.emptySkipped, 0u);
}

TEST(StreamFramerTest, NulFramed) {
  const Result r = frameEverySplit("<13>one\0<13>two\0"s, kBig);
  EXPECT_EQ(r.frames, frames({{"<13>one", kNone}, {"<13>two", kNone}}));
}

TEST(StreamFramerTest, CrFramed) {
  const Result r = frameEverySplit("<13>one\r<13>two\r", kBig);
  EXPECT_EQ(r.frames, frames({{"<13>one", kNone}, {"<13>two", kNone}}));
}

TEST(StreamFramerTest, CrLfFramedSkipsTheEmptyFrames) {
  const Result r = frameEverySplit("<13>one\r\n<13>two\r\n", kBig);
  EXPECT_EQ(r.frames, frames({{"<13>one", kNone}, {"<13>two", kNone}}));
  EXPECT_EQ(r.counters.emptySkipped, 2u);
}

TEST(StreamFramerTest, MixedFramingOnOneConnection) {
  const std::string stream = "5 hello<13>lf line\n7 a\nb\0c\r\n"s + "nul line\0"s + "3 abc" +
                             "cr line\r" + "12abc\n" + "4 \r\n\r\n";
  const Result r = frameEverySplit(stream, kBig);
  EXPECT_EQ(r.frames, frames({{"hello", kNone},
                              {"<13>lf line", kNone},
                              {"a\nb\0c\r\n"s, kNone},
                              {"nul line", kNone},
                              {"abc", kNone},
                              {"cr line", kNone},
                              {"12abc", kNone},
                              {"\r\n\r\n", kNone}}));
  EXPECT_EQ(r.counters.octetCounted, 4u);
  EXPECT_EQ(r.counters.nonTransparent, 4u);
  EXPECT_EQ(r.counters.emptySkipped, 0u);
}

TEST(StreamFramerTest, DigitsWithoutSpaceAreText) {
  const Result r = frameEverySplit("12abc\n", kBig);
  EXPECT_EQ(r.frames, frames({{"12abc", kNone}}));
  EXPECT_EQ(r.counters.octetCounted, 0u);
  EXPECT_EQ(r.counters.nonTransparent, 1u);
}

TEST(StreamFramerTest, DigitsEndedByTrailerAreText) {
  const Result r = frameEverySplit("123\n456\r\n", kBig);
  EXPECT_EQ(r.frames, frames({{"123", kNone}, {"456", kNone}}));
}

TEST(StreamFramerTest, TenDigitPrefixIsText) {
  const Result r = frameEverySplit("1234567890 x\n", kBig);
  EXPECT_EQ(r.frames, frames({{"1234567890 x", kNone}}));
  EXPECT_EQ(r.counters.octetCounted, 0u);
}

TEST(StreamFramerTest, NineDigitCountIsACount) {
  // 100,000,000 bytes promised, 3 arrive, then the close.
  const Result r = frameEverySplit("100000000 abc", 16);
  EXPECT_EQ(r.frames, frames({{"abc", kInc}}));
  EXPECT_EQ(r.counters.octetCounted, 1u);
  EXPECT_EQ(r.counters.incomplete, 1u);
}

TEST(StreamFramerTest, HugeCountKeepsTheMaximumAndDiscards) {
  const std::string body(100, 'x');
  const Result r = frameEverySplit("999999999 " + body, 16);
  EXPECT_EQ(r.frames, frames({{std::string(16, 'x'), kTrunc}}));
  EXPECT_EQ(r.counters.discardedBytes, 84u);
  EXPECT_EQ(r.counters.incomplete, 1u);
  EXPECT_EQ(r.counters.truncated, 1u);
}

TEST(StreamFramerTest, ZeroPrefixIsText) {
  // RFC 6587 §3.4.1: MSG-LEN starts with NONZERO-DIGIT.
  const Result r = frameEverySplit("0 hello\n05 hello\n", kBig);
  EXPECT_EQ(r.frames, frames({{"0 hello", kNone}, {"05 hello", kNone}}));
  EXPECT_EQ(r.counters.octetCounted, 0u);
}

TEST(StreamFramerTest, CountLargerThanDataThenCloseIsIncomplete) {
  const Result r = frameEverySplit("20 short", kBig);
  EXPECT_EQ(r.frames, frames({{"short", kInc}}));
  EXPECT_EQ(r.counters.incomplete, 1u);
  EXPECT_EQ(r.counters.truncated, 0u);
}

TEST(StreamFramerTest, CountSmallerThanMessageStartsANewFrame) {
  const Result r = frameEverySplit("3 hello\n5 world", kBig);
  EXPECT_EQ(r.frames, frames({{"hel", kNone}, {"lo", kNone}, {"world", kNone}}));
  EXPECT_EQ(r.counters.octetCounted, 2u);
  EXPECT_EQ(r.counters.nonTransparent, 1u);
}

TEST(StreamFramerTest, OversizedOctetCountedIsTruncated) {
  const Result r = frameEverySplit("10 01234567893 abc", 4);
  EXPECT_EQ(r.frames, frames({{"0123", kTrunc}, {"abc", kNone}}));
  EXPECT_EQ(r.counters.truncated, 1u);
  EXPECT_EQ(r.counters.discardedBytes, 6u);
  EXPECT_EQ(r.counters.octetCounted, 2u);
}

TEST(StreamFramerTest, OversizedNonTransparentIsTruncated) {
  const Result r = frameEverySplit("0123456789\nabc\n", 4);
  EXPECT_EQ(r.frames, frames({{"0123", kTrunc}, {"abc", kNone}}));
  EXPECT_EQ(r.counters.truncated, 1u);
  EXPECT_EQ(r.counters.discardedBytes, 6u);
}

TEST(StreamFramerTest, OversizedPendingDigitsAreTruncatedText) {
  const Result r = frameEverySplit("1234567\n12345", 3);
  EXPECT_EQ(r.frames, frames({{"123", kTrunc}, {"123", kTrunc | kInc}}));
  EXPECT_EQ(r.counters.discardedBytes, 6u);
}

TEST(StreamFramerTest, ExactlyMaximumIsNotTruncated) {
  const Result r = frameEverySplit("4 abcdwxyz\n", 4);
  EXPECT_EQ(r.frames, frames({{"abcd", kNone}, {"wxyz", kNone}}));
  EXPECT_EQ(r.counters.truncated, 0u);
  EXPECT_EQ(r.counters.discardedBytes, 0u);
}

TEST(StreamFramerTest, MaximumSizeZeroActsAsOne) {
  const Result r = frameEverySplit("ab\n", 0);
  EXPECT_EQ(r.frames, frames({{"a", kTrunc}}));
}

TEST(StreamFramerTest, FinishDeliversPartialLine) {
  const Result r = frameEverySplit("one\ntwo", kBig);
  EXPECT_EQ(r.frames, frames({{"one", kNone}, {"two", kInc}}));
  EXPECT_EQ(r.counters.incomplete, 1u);
  EXPECT_EQ(r.counters.nonTransparent, 2u);
}

TEST(StreamFramerTest, FinishDeliversPartialOversizedLine) {
  const Result r = frameEverySplit("abcdefgh", 4);
  EXPECT_EQ(r.frames, frames({{"abcd", kTrunc | kInc}}));
  EXPECT_EQ(r.counters.discardedBytes, 4u);
}

TEST(StreamFramerTest, FinishDeliversPartialCount) {
  const Result r = frameEverySplit("5 ab", kBig);
  EXPECT_EQ(r.frames, frames({{"ab", kInc}}));
  EXPECT_EQ(r.counters.octetCounted, 1u);
  EXPECT_EQ(r.counters.incomplete, 1u);
}

TEST(StreamFramerTest, FinishAfterCountWithoutBodyCountsOnly) {
  const Result r = frameEverySplit("5 ", kBig);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(r.counters.incomplete, 1u);
  EXPECT_EQ(r.counters.octetCounted, 0u);
}

TEST(StreamFramerTest, FinishInsideDiscardedExcessCountsOnly) {
  const Result r = frameEverySplit("10 012345", 4);
  EXPECT_EQ(r.frames, frames({{"0123", kTrunc}}));
  EXPECT_EQ(r.counters.incomplete, 1u);
  EXPECT_EQ(r.counters.discardedBytes, 2u);
}

TEST(StreamFramerTest, FinishDeliversPendingDigits) {
  const Result r = frameEverySplit("123", kBig);
  EXPECT_EQ(r.frames, frames({{"123", kInc}}));
  EXPECT_EQ(r.counters.incomplete, 1u);
  EXPECT_EQ(r.counters.nonTransparent, 1u);
}

TEST(StreamFramerTest, FinishWithNothingPending) {
  EXPECT_TRUE(frameEverySplit("", kBig).frames.empty());
  const Result r = frameEverySplit("a\n", kBig);
  EXPECT_EQ(r.frames, frames({{"a", kNone}}));
  EXPECT_EQ(r.counters.incomplete, 0u);
}

TEST(StreamFramerTest, FinishResetsForANewStream) {
  StreamFramer framer(kBig);
  CollectingSink sink;
  framer.feed("12", sink);
  framer.finish(sink);
  framer.feed("3 abc", sink);
  framer.finish(sink);
  EXPECT_EQ(sink.frames, frames({{"12", kInc}, {"abc", kNone}}));
}

TEST(StreamFramerTest, EmptyFramesAreSkippedAndCounted) {
  const Result r = frameEverySplit("\n\n\r\n\0a\n\n\r\r"s, kBig);
  EXPECT_EQ(r.frames, frames({{"a", kNone}}));
  EXPECT_EQ(r.counters.emptySkipped, 8u);
}

TEST(StreamFramerTest, AllByteValues) {
  std::string stream;
  for (int i = 0; i < 256; ++i) stream += static_cast<char>(i);
  std::string tail;
  for (int i = 14; i < 256; ++i) tail += static_cast<char>(i);
  const Result r = frameEverySplit(stream, kBig);
  EXPECT_EQ(
      r.frames,
      frames({{"\x01\x02\x03\x04\x05\x06\x07\x08\x09", kNone}, {"\x0b\x0c", kNone}, {tail, kInc}}));
  EXPECT_EQ(r.counters.emptySkipped, 1u);  // the NUL at offset 0

  // Each byte value at every offset of a 40-byte line, so every scanning width sees every value.
  for (int c = 0; c < 256; ++c) {
    for (size_t at = 0; at < 40; ++at) {
      std::string line(40, 'x');
      line[at] = static_cast<char>(c);
      const Result one = frameOneShot(line + "\n", kBig);
      EXPECT_EQ(one.frames, referenceFrames(line + "\n", kBig).frames) << c << " at " << at;
    }
  }
}

TEST(StreamFramerTest, BinaryGarbage) {
  std::mt19937 rng(1234);
  std::string stream;
  for (int i = 0; i < 300; ++i) stream += static_cast<char>(rng() & 0xff);
  frameEverySplit(stream, kBig);
  frameEverySplit(stream, 7);
}

TEST(StreamFramerTest, WholeMessagesAreViewsIntoTheInput) {
  const std::string input = "5 hello<13>line\n3 ab";
  StreamFramer framer(kBig);
  struct PointerSink : FrameSink {
    void onFrame(std::string_view message, FrameFlags) override { views.push_back(message); }
    std::vector<std::string_view> views;
  } sink;
  framer.feed(input, sink);
  ASSERT_EQ(sink.views.size(), 2u);
  for (std::string_view v : sink.views) {
    EXPECT_GE(v.data(), input.data());
    EXPECT_LE(v.data() + v.size(), input.data() + input.size());
  }
  EXPECT_EQ(framer.bufferedBytes(), 2u);  // "ab" of the third frame
}

TEST(StreamFramerTest, BufferNeverExceedsMaximum) {
  const size_t maxSize = 100;
  StreamFramer framer(maxSize);
  CollectingSink sink;
  for (int i = 0; i < 1000; ++i) {
    framer.feed("x", sink);
    EXPECT_LE(framer.bufferedBytes(), maxSize);
  }
  framer.feed("\n123456789", sink);
  EXPECT_EQ(framer.bufferedBytes(), 9u);
  framer.feed(" ", sink);
  for (int i = 0; i < 1000; ++i) {
    framer.feed("y", sink);
    EXPECT_LE(framer.bufferedBytes(), maxSize);
  }
  ASSERT_EQ(sink.frames.size(), 2u);
  EXPECT_EQ(sink.frames[0], (Frame{std::string(maxSize, 'x'), kTrunc}));
  EXPECT_EQ(sink.frames[1], (Frame{std::string(maxSize, 'y'), kTrunc}));
  EXPECT_EQ(framer.counters().discardedBytes, 1800u);
}

// Builds a stream from pieces that stress the framing decisions.
std::string randomStream(std::mt19937& rng, size_t pieces) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto randomBytes = [&](size_t n, bool allowTrailers) {
    std::string s;
    while (s.size() < n) {
      const char c = static_cast<char>(rng() & 0xff);
      if (!allowTrailers && (c == '\n' || c == '\r' || c == '\0')) continue;
      s += c;
    }
    return s;
  };
  static const char* const kTrailers[] = {"\n", "\r\n", "\0", "\r", "\n\n"};
  std::string stream;
  for (size_t i = 0; i < pieces; ++i) {
    switch (pick(7)) {
      case 0:
      case 1: {  // honest octet-counted frame
        const size_t len = 1 + pick(40);
        stream += std::to_string(len) + " " + randomBytes(len, true);
        break;
      }
      case 2: {  // lying octet count
        const size_t len = 1 + pick(40);
        stream += std::to_string(len + pick(5)) + " " + randomBytes(len, true);
        break;
      }
      case 3:
      case 4: {  // non-transparent line
        const char* t = kTrailers[pick(5)];
        stream += randomBytes(pick(50), false);
        stream.append(t, t[0] == '\0' ? 1 : std::char_traits<char>::length(t));
        break;
      }
      case 5:  // digits, maybe a space
        stream += std::to_string(rng() % 2000000000u) + (pick(2) ? " " : "");
        break;
      default:
        stream += randomBytes(pick(20), true);
        break;
    }
  }
  return stream;
}

TEST(StreamFramerTest, RandomChunkingsMatchOneShot) {
  std::mt19937 rng(20240611);
  const size_t kSizes[] = {1, 2, 5, 16, 64, kBig};
  for (int round = 0; round < 1000; ++round) {
    const std::string stream = randomStream(rng, 1 + rng() % 30);
    const size_t maxSize = kSizes[rng() % std::size(kSizes)];
    const Result whole = frameOneShot(stream, maxSize);
    const Result reference = referenceFrames(stream, maxSize);
    ASSERT_EQ(whole.frames, reference.frames) << printable(stream);
    ASSERT_EQ(fields(whole.counters), fields(reference.counters)) << printable(stream);
    for (int chunking = 0; chunking < 10; ++chunking) {
      std::vector<size_t> cuts;
      for (size_t at = 0; at < stream.size();) {
        at += 1 + rng() % (chunking < 5 ? 4 : 64);
        if (at < stream.size()) cuts.push_back(at);
      }
      const Result split = frameWithCuts(stream, maxSize, cuts);
      ASSERT_EQ(split.frames, whole.frames) << printable(stream);
      ASSERT_EQ(fields(split.counters), fields(whole.counters)) << printable(stream);
      ASSERT_LE(split.maxBuffered, maxSize + 10);
    }
  }
}

TEST(StreamFramerTest, RandomStreamsEverySplit) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    frameEverySplit(randomStream(rng, 8), 1 + rng() % 20);
  }
}

// ---------------------------------------------------------------------------------------------
// Cuts by the partial-message budget (cutPartial)

// One frame of a stream: [start, end) with the trailer, if any; an octet frame's body starts at
// `body`; a line that starts with digits keeps them pending (no message yet) for `digits` bytes.
struct FrameSpan {
  size_t start, body, end;
  bool octet;
  size_t digits = 0;
};

// What a cut after `stream[0, at)` must give: every frame as before, except the one `at` falls
// inside, if it holds message bytes there: those are delivered truncated and the rest of its
// frame (the count left, or the line up to its trailer) is discarded.
Result expectedWithCutAt(std::string_view stream, const std::vector<FrameSpan>& spans, size_t at) {
  Result r = frameOneShot(stream, kBig);
  std::vector<Frame> out;
  size_t index = 0;
  for (const FrameSpan& f : spans) {
    Frame whole = r.frames[index++];
    const size_t held = f.octet ? f.body : f.start + f.digits;
    if (at <= held || at >= f.end) {
      out.push_back(whole);
      continue;
    }
    const size_t from = f.octet ? f.body : f.start;
    out.push_back({std::string(stream.substr(from, at - from)), kTrunc});
    ++r.counters.truncated;
    ++r.counters.budgetCuts;
    r.counters.discardedBytes += (f.octet ? f.end : f.end - 1) - at;
  }
  r.frames = out;
  return r;
}

TEST(StreamFramerTest, BudgetCutAtEverySplitPoint) {
  // An octet frame, a line, a line that starts with a digit, another octet frame, a last line.
  const std::string stream = "11 hello world<13>line one\n7x\n5 abcde<13>last\n";
  const std::vector<FrameSpan> spans = {{0, 3, 14, true},
                                        {14, 14, 27, false},
                                        {27, 27, 30, false, 1},
                                        {30, 32, 37, true},
                                        {37, 37, 46, false}};
  for (size_t at = 0; at <= stream.size(); ++at) {
    StreamFramer framer(kBig);
    CollectingSink sink;
    framer.feed(std::string_view(stream).substr(0, at), sink);
    framer.cutPartial(sink);
    EXPECT_EQ(framer.memoryHeld(), 0u) << "cut at " << at;
    framer.feed(std::string_view(stream).substr(at), sink);  // the rest, then the next frames
    framer.finish(sink);
    const Result want = expectedWithCutAt(stream, spans, at);
    EXPECT_EQ(sink.frames, want.frames) << "cut at " << at;
    EXPECT_EQ(fields(framer.counters()), fields(want.counters)) << "cut at " << at;
  }
}

TEST(StreamFramerTest, BudgetCutInsideAHugeCountDiscardsTheRestOfTheCount) {
  // The attack that stalled connections: a count of 999999999 and 60,000 bytes, then more.
  StreamFramer framer(kBig);
  CollectingSink sink;
  framer.feed("999999999 " + std::string(60'000, 'a'), sink);
  EXPECT_EQ(framer.memoryHeld(), 60'000u);
  framer.cutPartial(sink);
  EXPECT_EQ(framer.memoryHeld(), 0u);
  framer.feed(std::string(100'000, 'b'), sink);  // still inside the count: discarded
  EXPECT_EQ(framer.memoryHeld(), 0u);
  framer.finish(sink);
  EXPECT_EQ(sink.frames, frames({{std::string(60'000, 'a'), kTrunc}}));
  const FramerCounters& c = framer.counters();
  EXPECT_EQ(c.truncated, 1u);
  EXPECT_EQ(c.budgetCuts, 1u);
  EXPECT_EQ(c.incomplete, 1u);  // the peer closed before the count's end
  EXPECT_EQ(c.discardedBytes, 100'000u);
}

TEST(StreamFramerTest, BudgetCutLineThenTheNextFrame) {
  StreamFramer framer(kBig);
  CollectingSink sink;
  framer.feed("<13>" + std::string(60'000, 'a'), sink);
  framer.cutPartial(sink);
  framer.feed("aaa", sink);
  EXPECT_EQ(framer.memoryHeld(), 0u);
  framer.feed("a\n6 after<13>tail", sink);
  framer.finish(sink);
  EXPECT_EQ(
      sink.frames,
      frames({{"<13>" + std::string(60'000, 'a'), kTrunc}, {"after<", kNone}, {"13>tail", kInc}}));
  EXPECT_EQ(framer.counters().discardedBytes, 4u);
  EXPECT_EQ(framer.counters().budgetCuts, 1u);
}

TEST(StreamFramerTest, BudgetCutLineWithoutTrailerIsIncompleteAtClose) {
  StreamFramer framer(kBig);
  CollectingSink sink;
  framer.feed("<13>abc", sink);
  framer.cutPartial(sink);
  framer.feed("def", sink);
  framer.finish(sink);
  EXPECT_EQ(sink.frames, frames({{"<13>abc", kTrunc}}));
  EXPECT_EQ(framer.counters().incomplete, 1u);
  EXPECT_EQ(framer.counters().discardedBytes, 3u);
}

TEST(StreamFramerTest, BudgetCutOfAnOversizeLineCountsOneTruncation) {
  StreamFramer framer(10);
  CollectingSink sink;
  framer.feed("0123456789abc", sink);  // already past the maximum
  framer.cutPartial(sink);
  framer.feed("def\n", sink);
  framer.finish(sink);
  EXPECT_EQ(sink.frames, frames({{"0123456789", kTrunc}}));
  EXPECT_EQ(framer.counters().truncated, 1u);
  EXPECT_EQ(framer.counters().discardedBytes, 6u);
}

TEST(StreamFramerTest, BudgetCutHoldingNoMessageDeliversNothing) {
  StreamFramer framer(10);
  CollectingSink sink;
  // Between frames, with a reused buffer kept from a split message: only the memory goes.
  framer.feed("ab", sink);
  framer.feed("c\n", sink);
  EXPECT_GT(framer.memoryHeld(), 0u);
  framer.cutPartial(sink);
  EXPECT_EQ(framer.memoryHeld(), 0u);
  // Pending digits, a count without body, and a frame already past its maximum: no message.
  framer.feed("12", sink);
  framer.cutPartial(sink);
  framer.feed(" 0123456789", sink);  // the maximum: delivered truncated, the rest discarded
  framer.cutPartial(sink);
  framer.feed("a", sink);  // one of the two bytes left to discard, then the peer closes
  framer.finish(sink);
  EXPECT_EQ(sink.frames, frames({{"abc", kNone}, {"0123456789", kTrunc}}));
  EXPECT_EQ(framer.counters().budgetCuts, 0u);
  EXPECT_EQ(framer.counters().discardedBytes, 1u);
  EXPECT_EQ(framer.counters().incomplete, 1u);
}

TEST(StreamFramerTest, MemoryStaysWithinAQuarterOfTheBytesHeld) {
  // The budget charges heldBytes(); the buffer may hold at most a quarter more memory.
  std::mt19937 rng(4);
  for (const std::string head : {"<13>", "65536 "}) {
    StreamFramer framer(kBig);
    CollectingSink sink;
    framer.feed(head, sink);
    for (size_t sent = 0; sent < 60'000;) {
      const size_t n = 1 + rng() % 3000;
      framer.feed(std::string(n, 'm'), sink);
      sent += n;
      ASSERT_LE(framer.memoryHeld(),
                std::max<size_t>(framer.heldBytes() + framer.heldBytes() / 4 + 1, 4096));
    }
    EXPECT_TRUE(sink.frames.empty());
  }
}

TEST(StreamFramerTest, BudgetCutsAtRandomPointsKeepTheInvariants) {
  std::mt19937 rng(99);
  for (int round = 0; round < 300; ++round) {
    const std::string stream = randomStream(rng, 1 + rng() % 20);
    const size_t maxSize = 1 + rng() % 64;
    StreamFramer framer(maxSize);
    CollectingSink sink;
    size_t from = 0;
    while (from < stream.size()) {
      const size_t n = std::min<size_t>(stream.size() - from, 1 + rng() % 16);
      framer.feed(std::string_view(stream).substr(from, n), sink);
      from += n;
      ASSERT_LE(framer.memoryHeld(), maxSize);
      // Growth by a quarter: the memory stays within 25 % of the bytes the budget charges, or
      // the 4 KiB kept for reuse.
      ASSERT_LE(framer.memoryHeld(),
                std::max<size_t>(framer.heldBytes() + framer.heldBytes() / 4 + 1, 4096));
      if (rng() % 3 == 0) {
        const size_t before = sink.frames.size();
        const uint64_t cuts = framer.counters().budgetCuts;
        framer.cutPartial(sink);
        ASSERT_EQ(framer.memoryHeld(), 0u);
        ASSERT_EQ(sink.frames.size() - before, framer.counters().budgetCuts - cuts);
        if (sink.frames.size() > before) {
          ASSERT_TRUE(hasFlag(sink.frames.back().flags, kTrunc));
        }
      }
    }
    framer.finish(sink);
    for (const Frame& f : sink.frames) {
      ASSERT_FALSE(f.message.empty());
      ASSERT_LE(f.message.size(), maxSize);
    }
  }
}

}  // namespace
}  // namespace kinesyslog::syslog
