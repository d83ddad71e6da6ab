// Micro benchmarks for the RFC 6587 stream framer: ~200-byte messages, octet-counted
// (§3.4.1) and LF-terminated (§3.4.2), fed in 64 KiB pieces as a TCP read loop hands them over,
// so most messages are framed in place and one in ~320 straddles two pieces and is copied.
// Run: kinesyslog_microbench --benchmark_filter=Framer.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "proto/syslog/stream_framer.h"

namespace kinesyslog::syslog {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kStreamBytes = 4u << 20;  // one default --flush-size worth of stream
constexpr size_t kMaxMessageSize = 65536;  // the --max-message-size default

// A 200-byte RFC 5424 message; `i` varies the digits so no two messages are alike.
std::string message200(int i) {
  char head[128];
  const int n =
      std::snprintf(head, sizeof(head),
                    "<134>1 2024-06-01T12:%02d:%02d.%06dZ web-%02d.example.com nginx "
                    "%d - - seq=%08d ",
                    i / 60 % 60, i % 60, (i * 7919) % 1000000, i % 16, 1000 + i % 30000, i);
  std::string m(head, static_cast<size_t>(n));
  m.append(200 - m.size(), 'x');
  return m;
}

// A stream of about kStreamBytes of 200-byte messages in the given framing.
std::string stream(bool octetCounted, int64_t& messages) {
  std::string s;
  messages = 0;
  for (int i = 0; s.size() < kStreamBytes; ++i, ++messages) {
    const std::string m = message200(i);
    if (octetCounted) {
      s += std::to_string(m.size());
      s += ' ';
      s += m;
    } else {
      s += m;
      s += '\n';
    }
  }
  return s;
}

class CountingSink : public FrameSink {
 public:
  void onFrame(std::string_view message, FrameFlags) override {
    ++frames;
    bytes += message.size();
    benchmark::DoNotOptimize(message.data());
  }
  int64_t frames = 0;
  size_t bytes = 0;
};

void runFramer(benchmark::State& state, bool octetCounted) {
  int64_t messages = 0;
  const std::string input = stream(octetCounted, messages);
  StreamFramer framer(kMaxMessageSize);
  CountingSink sink;
  for (auto _ : state) {
    const std::string_view all(input);
    for (size_t at = 0; at < all.size(); at += kChunkBytes) {
      framer.feed(all.substr(at, kChunkBytes), sink);
    }
    benchmark::ClobberMemory();
  }
  // Every message must come out whole: a framer that lost sync would be fast and wrong.
  if (sink.frames != messages * state.iterations() || framer.counters().truncated != 0) {
    state.SkipWithError("framer lost messages");
    return;
  }
  state.SetItemsProcessed(sink.frames);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

void BM_FramerOctetCounted200(benchmark::State& state) {
  runFramer(state, true);
}
BENCHMARK(BM_FramerOctetCounted200)->Unit(benchmark::kMicrosecond);

void BM_FramerLf200(benchmark::State& state) {
  runFramer(state, false);
}
BENCHMARK(BM_FramerLf200)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kinesyslog::syslog
