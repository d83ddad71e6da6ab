// Micro benchmarks for the GELF per-message work: appendGelfEvent (the one copy into the batch,
// full simdjson On-Demand validation, the timestamp field) on graypy-shaped messages of about
// 400 bytes and on 4 KiB ones; parseGelfTimestampMillis alone; and the UDP side: a zlib
// datagram inflated, and an 8-chunk zlib message reassembled and inflated.
// Run: kinesyslog_microbench --benchmark_filter=Gelf.
#include <benchmark/benchmark.h>
#include <libdeflate.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "proto/gelf/gelf_datagram.h"
#include "proto/gelf/gelf_event.h"
#include "proto/gelf/gelf_test_datagrams.h"
#include "proto/gelf/gelf_timestamp.h"
#include "record/source_batch.h"

namespace kinesyslog::gelf {
namespace {

constexpr int kMessages = 1024;
constexpr int64_t kReceiveMicros = 1717243200LL * 1'000'000;

// Messages as graypy writes them (compact JSON, its standard fields), with `extra` bytes of
// short_message text.
std::vector<std::string> messages(size_t extra) {
  std::vector<std::string> out;
  for (int i = 0; i < kMessages; ++i) {
    char head[512];
    const int n = std::snprintf(
        head, sizeof head,
        R"({"version":"1.0","host":"web-01.example.com","short_message":"GET /api/v1/items?page=%d HTTP/1.1 200 )",
        i);
    std::string m(head, static_cast<size_t>(n));
    m.append(extra, 'x');
    char tail[512];
    const int t = std::snprintf(
        tail, sizeof tail,
        R"(","timestamp":1717243200.%06d,"level":6,"facility":"app.access","file":"/srv/app/views.py",)"
        R"("line":%d,"_function":"handle","_pid":4242,"_thread_name":"MainThread",)"
        R"("_process_name":"MainProcess","_request_id":"%08x-aaaa-bbbb"})",
        (i * 7919) % 1000000, 100 + i, i * 2654435761u);
    m.append(tail, static_cast<size_t>(t));
    out.push_back(std::move(m));
  }
  return out;
}

void runAppend(benchmark::State& state, size_t extra) {
  const std::vector<std::string> input = messages(extra);
  GelfParser parser(65536);
  record::SourceBatch batch;
  size_t inputBytes = 0;
  for (const std::string& m : input) inputBytes += m.size();
  int64_t timed = 0;
  for (auto _ : state) {
    batch.clear();  // keeps capacity, as the relay's batches do between flushes
    for (const std::string& m : input) {
      const AppendedGelfEvent e = appendGelfEvent(batch, m, kReceiveMicros, parser, 65536);
      timed += e.findings.validJson && e.findings.timestampMs.has_value();
    }
    benchmark::DoNotOptimize(batch.arena.data());
  }
  if (timed != state.iterations() * kMessages) {
    state.SkipWithError("a message was not valid or had no timestamp");
    return;
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * inputBytes));
}

void BM_GelfAppendEvent400(benchmark::State& state) {
  runAppend(state, 0);
}
BENCHMARK(BM_GelfAppendEvent400);

void BM_GelfAppendEvent4K(benchmark::State& state) {
  runAppend(state, 3700);
}
BENCHMARK(BM_GelfAppendEvent4K);

void BM_GelfTimestamp(benchmark::State& state) {
  std::vector<std::string> stamps;
  for (int i = 0; i < kMessages; ++i) {
    stamps.push_back("1717243200." + std::to_string(100000 + (i * 7919) % 900000));
  }
  int64_t sum = 0;
  for (auto _ : state) {
    for (const std::string& s : stamps) sum += parseGelfTimestampMillis(s).value_or(-1);
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kMessages);
}
BENCHMARK(BM_GelfTimestamp);

using gelf::testing::chunk;

void BM_GelfDecodeZlibDatagram(benchmark::State& state) {
  std::vector<std::string> datagrams;
  for (const std::string& m : messages(0))
    datagrams.push_back(gelf::testing::compress(gelf::GelfEncoding::kZlib, m));
  GelfDatagramDecoder decoder(65536);
  size_t bytes = 0;
  for (auto _ : state) {
    for (const std::string& d : datagrams) {
      std::string_view message;
      if (decoder.decode("192.0.2.10", d, 0, &message) != DatagramOutcome::kMessage) {
        state.SkipWithError("not decoded");
        return;
      }
      bytes += message.size();
    }
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(state.iterations() * kMessages);
}
BENCHMARK(BM_GelfDecodeZlibDatagram);

void BM_GelfDecodeChunkedZlib(benchmark::State& state) {
  // 4 KiB messages, compressed, in 8 chunks each (graypy with a small chunk size).
  std::vector<std::vector<std::string>> sets;
  uint64_t id = 1;
  for (const std::string& m : messages(3700)) {
    const std::string z = gelf::testing::compress(gelf::GelfEncoding::kZlib, m);
    std::vector<std::string> chunks;
    for (unsigned s = 0; s < 8; ++s) {
      chunks.push_back(chunk(
          id, s, 8,
          std::string_view(z).substr(z.size() * s / 8, z.size() * (s + 1) / 8 - z.size() * s / 8)));
    }
    ++id;
    sets.push_back(std::move(chunks));
  }
  GelfDatagramDecoder decoder(65536);
  size_t complete = 0;
  for (auto _ : state) {
    for (const auto& chunks : sets) {
      std::string_view message;
      for (const std::string& c : chunks) {
        complete += decoder.decode("192.0.2.10", c, 0, &message) == DatagramOutcome::kMessage;
      }
    }
  }
  if (complete != static_cast<size_t>(state.iterations()) * kMessages) {
    state.SkipWithError("a set did not complete");
    return;
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
}
BENCHMARK(BM_GelfDecodeChunkedZlib);

}  // namespace
}  // namespace kinesyslog::gelf
