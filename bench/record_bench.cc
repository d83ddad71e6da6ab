// Micro benchmarks for the record stage: the event id, the JSON escaper and the record encoder
// (escape, build JSON, gzip, split). Run: kinesyslog_microbench
// --benchmark_filter='EventId|Escape|Encode'.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "record/event_id.h"
#include "record/json_escape.h"
#include "record/record_encoder.h"
#include "record/source_batch.h"

namespace kinesyslog::record {
namespace {

// ~200-byte RFC 5424 lines like the relay's typical traffic.
std::string syslogLine(std::mt19937& rng, int i) {
  const auto draw = [&rng](uint32_t bound) { return static_cast<unsigned>(rng() % bound); };
  char line[512];
  const int n = std::snprintf(
      line, sizeof(line),
      "<%u>1 2024-06-01T12:%02u:%02u.%06u+00:00 web-%02u.example.com nginx %u - - 10.%u.%u.%u "
      "- - \"GET /api/v1/items/%u?page=%u HTTP/1.1\" %u %u \"-\" \"Mozilla/5.0 (X11; Linux)\"",
      130 + draw(8), static_cast<unsigned>(i / 60 % 60), static_cast<unsigned>(i % 60),
      draw(1000000), draw(16), 1000 + draw(30000), draw(256), draw(256), draw(256), draw(100000),
      draw(50), draw(2) ? 200u : 404u, draw(60000));
  return std::string(line, static_cast<size_t>(n));
}

// Text in several scripts mixed with ASCII, a little of it broken.
std::string mixedUtf8Line(std::mt19937& rng) {
  static const char* const kWords[] = {"user",
                                       "\xc3\xa9t\xc3\xa9",
                                       "\xd0\x9f\xd1\x80\xd0\xb8",
                                       "\xe6\x97\xa5\xe6\x9c\xac",
                                       "\xf0\x9f\x98\x80",
                                       "login",
                                       "\"quoted\"",
                                       "tab\there",
                                       "\xff"};
  std::string s;
  while (s.size() < 200) {
    s += kWords[rng() % 9];
    s += ' ';
  }
  return s;
}

// A GELF message as relayed: JSON itself, so a quote every few bytes.
std::string gelfLine(std::mt19937& rng, int i) {
  char line[512];
  const int n = std::snprintf(
      line, sizeof(line),
      R"({"version":"1.1","host":"web-%02u.example.com","short_message":"GET /api/v1/items/%u )"
      R"(HTTP/1.1 200","timestamp":%u.%03u,"level":6,"_facility":"nginx","_request_id":"%08x",)"
      R"("_status":200,"_bytes":%u})",
      static_cast<unsigned>(rng() % 16), static_cast<unsigned>(rng() % 100000),
      1717243200u + static_cast<unsigned>(i), static_cast<unsigned>(rng() % 1000),
      static_cast<unsigned>(rng()), static_cast<unsigned>(rng() % 60000));
  return std::string(line, static_cast<size_t>(n));
}

std::vector<std::string> gelfLines() {
  std::mt19937 rng(1);
  std::vector<std::string> out;
  for (int i = 0; i < 4096; ++i) out.push_back(gelfLine(rng, i));
  return out;
}

std::vector<std::string> lines(bool mixed) {
  std::mt19937 rng(1);
  std::vector<std::string> out;
  for (int i = 0; i < 4096; ++i) out.push_back(mixed ? mixedUtf8Line(rng) : syslogLine(rng, i));
  return out;
}

void runEscape(benchmark::State& state, const std::vector<std::string>& input) {
  std::string out;
  size_t bytes = 0;
  for (const std::string& line : input) bytes += line.size();
  for (auto _ : state) {
    out.clear();
    for (const std::string& line : input) appendJsonEscaped(out, line);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

// One event id (UUID v4 text) per relayed message.
void BM_EventId(benchmark::State& state) {
  EventIdGenerator ids(42);
  char id[kEventIdLength];
  for (auto _ : state) {
    ids.next(id);
    benchmark::DoNotOptimize(id);
  }
}
BENCHMARK(BM_EventId);

void BM_EscapeAsciiSyslog(benchmark::State& state) {
  runEscape(state, lines(false));
}
BENCHMARK(BM_EscapeAsciiSyslog);

void BM_EscapeMixedUtf8(benchmark::State& state) {
  runEscape(state, lines(true));
}
BENCHMARK(BM_EscapeMixedUtf8);

void BM_EscapeGelfJson(benchmark::State& state) {
  runEscape(state, gelfLines());
}
BENCHMARK(BM_EscapeGelfJson);

class CountingSink : public RecordSink {
 public:
  void onRecord(std::string_view gzipRecord, size_t) override {
    ++records;
    benchmark::DoNotOptimize(gzipRecord.data());
  }
  int64_t records = 0;
};

// A 4 MiB flush (the default --flush-size) of ~200-byte lines, at the level in range(0).
void BM_EncodeBatch(benchmark::State& state) {
  SourceBatch batch;
  batch.group = "syslog_message";
  batch.stream = "192.0.2.10";
  std::mt19937 rng(2);
  for (int i = 0; batch.messageBytes() < (4u << 20); ++i) {
    batch.addEvent(1519247270240 + i, syslogLine(rng, i));
  }
  RecordEncoder encoder("123456789012", static_cast<int>(state.range(0)));
  CountingSink sink;
  encoder.encode(batch, sink);  // learn the ratio, as a running relay has
  const EncoderCounters start = encoder.counters();
  sink.records = 0;
  for (auto _ : state) encoder.encode(batch, sink);
  const EncoderCounters& end = encoder.counters();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch.messageBytes()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch.events.size()));
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(sink.records), benchmark::Counter::kIsRate);
  state.counters["json/msg"] = static_cast<double>(end.jsonBytes - start.jsonBytes) /
                               static_cast<double>(end.events - start.events);
  state.counters["gz/json"] =
      static_cast<double>(end.compressedBytesOut - start.compressedBytesOut) /
      static_cast<double>(end.jsonBytes - start.jsonBytes);
  state.counters["fed/json"] =
      static_cast<double>(end.compressedBytesFed - start.compressedBytesFed) /
      static_cast<double>(end.jsonBytes - start.jsonBytes);
}
BENCHMARK(BM_EncodeBatch)->Arg(1)->Arg(6)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kinesyslog::record
