// Micro benchmark for the record splitter: RecordEncoder on one 4 MiB batch (the default
// --flush-size) at record limits small enough to split it into hundreds of records, against the
// Firehose limit (kMaxRecordBytes), where it makes a few. What splitting costs shows in time per
// batch and in fed/json: the bytes the compressor saw over the JSON delivered (1.0 when no record
// had to be compressed twice). BM_EncodeBatch (record_bench.cc) covers the default limit per level.
// Run: kinesyslog_microbench --benchmark_filter=Split.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>

#include "record/record_encoder.h"
#include "record/source_batch.h"

namespace kinesyslog::record {
namespace {

// ~200-byte RFC 5424 lines with some entropy, so gzip's ratio resembles real traffic.
std::string accessLine(std::mt19937& rng, int i) {
  char line[400];
  const int n = std::snprintf(
      line, sizeof(line),
      "<134>1 2024-06-01T12:%02d:%02d.%06u+00:00 web-%02u.example.com nginx %u - - 10.%u.%u.%u "
      "- - \"GET /api/v1/items/%u?page=%u HTTP/1.1\" %u %u \"-\" \"curl/8.%u\"",
      i / 60 % 60, i % 60, static_cast<unsigned>(rng() % 1000000),
      static_cast<unsigned>(rng() % 16), static_cast<unsigned>(1000 + rng() % 30000),
      static_cast<unsigned>(rng() % 256), static_cast<unsigned>(rng() % 256),
      static_cast<unsigned>(rng() % 256), static_cast<unsigned>(rng() % 100000),
      static_cast<unsigned>(rng() % 50), rng() % 2 ? 200u : 404u,
      static_cast<unsigned>(rng() % 60000), static_cast<unsigned>(rng() % 10));
  return std::string(line, static_cast<size_t>(n));
}

// ~200 bytes of random hex after a header: gzip gets this only to about half, against about a
// fifth for accessLine, so a ratio learnt on one kind of line mispredicts the other.
std::string noiseLine(std::mt19937& rng) {
  std::string line = "<134>1 2024-06-01T12:00:00.000000+00:00 batch-01 job - - - ";
  static const char kHex[] = "0123456789abcdef";
  while (line.size() < 200) line.push_back(kHex[rng() % 16]);
  return line;
}

class CountingSink : public RecordSink {
 public:
  void onRecord(std::string_view gzipRecord, size_t eventCount) override {
    ++records;
    events += static_cast<int64_t>(eventCount);
    benchmark::DoNotOptimize(gzipRecord.data());
  }
  int64_t records = 0;
  int64_t events = 0;
};

// range(0): maxRecordBytes; range(1): compression level; range(2): 1 to alternate blocks of 512
// access lines and 512 noise lines, so the ratio the encoder predicts records by keeps being wrong
// and some records come out over the limit and are split and compressed again.
void BM_SplitBatch(benchmark::State& state) {
  SourceBatch batch;
  batch.group = "syslog_message";
  batch.stream = "192.0.2.10";
  std::mt19937 rng(3);
  const bool shifting = state.range(2) != 0;
  for (int i = 0; batch.messageBytes() < (4u << 20); ++i) {
    const bool noise = shifting && (i / 512) % 2 == 1;
    batch.addEvent(1717243200000 + i, noise ? noiseLine(rng) : accessLine(rng, i));
  }
  RecordEncoder encoder("123456789012", static_cast<int>(state.range(1)),
                        static_cast<size_t>(state.range(0)));
  CountingSink sink;
  encoder.encode(batch, sink);  // calibrate the ratio estimate, as a running relay has
  const EncoderCounters start = encoder.counters();
  sink = CountingSink();
  for (auto _ : state) encoder.encode(batch, sink);
  const EncoderCounters& end = encoder.counters();
  // No event may be lost or duplicated by splitting.
  if (sink.events != state.iterations() * static_cast<int64_t>(batch.events.size())) {
    state.SkipWithError("events lost or duplicated");
    return;
  }
  const auto iterations = static_cast<double>(state.iterations());
  state.SetItemsProcessed(sink.events);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch.messageBytes()));
  state.counters["records"] = static_cast<double>(sink.records) / iterations;
  state.counters["resplits"] = static_cast<double>(end.resplits - start.resplits) / iterations;
  state.counters["fed/json"] =
      static_cast<double>(end.compressedBytesFed - start.compressedBytesFed) /
      static_cast<double>(end.jsonBytes - start.jsonBytes);
}
BENCHMARK(BM_SplitBatch)
    ->ArgNames({"maxRecordBytes", "level", "shifting"})
    ->Args({4096, 6, 0})
    ->Args({16384, 6, 0})
    ->Args({65536, 6, 0})
    ->Args({static_cast<int64_t>(kMaxRecordBytes), 6, 0})
    ->Args({4096, 1, 0})
    ->Args({static_cast<int64_t>(kMaxRecordBytes), 1, 0})
    ->Args({4096, 6, 1})
    ->Args({65536, 6, 1})
    ->Args({static_cast<int64_t>(kMaxRecordBytes), 6, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kinesyslog::record
