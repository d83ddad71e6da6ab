// Micro benchmarks for the per-message header work: parseEventTimeMicros on each header form the
// relay accepts (RFC 5424 §6.2.3, RFC 3164 §4.1.2 in UTC and in a zone with DST, none at all),
// and appendSyslogEvent, the one copy of a message into its batch, on the rewrite path (no
// usable timestamp: the message is rewritten as RFC 5424 with the receive time) and on the
// header-time path for comparison.
// Run: kinesyslog_microbench --benchmark_filter='EventTime|Append'.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/syslog/event_time.h"
#include "proto/syslog/local_zone.h"
#include "proto/syslog/syslog_event.h"
#include "record/source_batch.h"

namespace kinesyslog::syslog {
namespace {

constexpr int kMessages = 1024;
// 2024-06-01T12:00:00Z, the receive time for RFC 3164 year inference: the stamps below from
// June 4 on are more than 2 days ahead of it and so fall in the year before (docs/design.md
// "Events").
constexpr int64_t kReceiveMicros = 1717243200LL * kMicrosPerSecond;
constexpr std::string_view kBody =
    " web-01.example.com nginx: GET /api/v1/items?page=3 HTTP/1.1 200";

enum class Header { kRfc5424, kRfc5424SameSecond, kRfc3164, kNone };

// Messages with varied timestamps, so the benchmark does not measure one memoised date (the
// parser keeps the last second it read); kRfc5424SameSecond measures that case on purpose.
std::vector<std::string> messages(Header header) {
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun"};
  std::vector<std::string> out;
  for (int i = 0; i < kMessages; ++i) {
    char head[80];
    int n = 0;
    const int month = i % 6;
    const int day = 1 + i % 28;
    if (header == Header::kRfc5424SameSecond) {
      // A busy sender: every stamp of the run in one second, as the relay mostly sees them.
      n = std::snprintf(head, sizeof(head), "<134>1 2024-06-01T12:00:01.%06d+02:00",
                        (i * 7919) % 1000000);
    } else if (header == Header::kRfc5424) {
      n = std::snprintf(head, sizeof(head), "<134>1 2024-%02d-%02dT%02d:%02d:%02d.%06d+02:00",
                        month + 1, day, i % 24, i % 60, (i * 7) % 60, (i * 7919) % 1000000);
    } else if (header == Header::kRfc3164) {
      n = std::snprintf(head, sizeof(head), "<134>%s %2d %02d:%02d:%02d", kMonths[month], day,
                        i % 24, i % 60, (i * 7) % 60);
    } else {
      n = std::snprintf(head, sizeof(head), "<134>web[%d]:", 1000 + i);
    }
    std::string m(head, static_cast<size_t>(n));
    m += kBody;
    out.push_back(std::move(m));
  }
  return out;
}

void runParse(benchmark::State& state, Header header, const LocalZone& zone) {
  const std::vector<std::string> input = messages(header);
  int64_t found = 0;
  for (auto _ : state) {
    for (const std::string& m : input) {
      const std::optional<int64_t> t = parseEventTimeMicros(m, kReceiveMicros, zone);
      found += t.has_value();
      benchmark::DoNotOptimize(t);
    }
  }
  // A parser that rejected the valid headers (or accepted the missing ones) would be fast and
  // wrong; fail the benchmark rather than report it.
  const int64_t expected = header == Header::kNone ? 0 : state.iterations() * kMessages;
  if (found != expected) {
    state.SkipWithError("unexpected parse result");
    return;
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
}

void BM_EventTimeRfc5424(benchmark::State& state) {
  runParse(state, Header::kRfc5424, LocalZone::utc());
}
BENCHMARK(BM_EventTimeRfc5424);

void BM_EventTimeRfc5424SameSecond(benchmark::State& state) {
  runParse(state, Header::kRfc5424SameSecond, LocalZone::utc());
}
BENCHMARK(BM_EventTimeRfc5424SameSecond);

void BM_EventTimeRfc3164Utc(benchmark::State& state) {
  runParse(state, Header::kRfc3164, LocalZone::utc());
}
BENCHMARK(BM_EventTimeRfc3164Utc);

void BM_EventTimeRfc3164Berlin(benchmark::State& state) {
  const std::optional<LocalZone> berlin = LocalZone::find("Europe/Berlin");
  if (!berlin) {
    state.SkipWithError("Europe/Berlin not in the tz database");
    return;
  }
  runParse(state, Header::kRfc3164, *berlin);
}
BENCHMARK(BM_EventTimeRfc3164Berlin);

void BM_EventTimeNoTimestamp(benchmark::State& state) {
  runParse(state, Header::kNone, LocalZone::utc());
}
BENCHMARK(BM_EventTimeNoTimestamp);

void runAppend(benchmark::State& state, Header header) {
  const std::vector<std::string> input = messages(header);
  const LocalZone zone = LocalZone::utc();
  record::SourceBatch batch;
  size_t inputBytes = 0;
  for (const std::string& m : input) inputBytes += m.size();
  int64_t rewritten = 0;
  for (auto _ : state) {
    batch.clear();  // keeps capacity, as the relay's batches do between flushes
    for (const std::string& m : input) {
      const AppendedEvent e =
          appendSyslogEvent(batch, m, kReceiveMicros, "192.0.2.10", zone, 65536);
      rewritten += e.rewritten;
    }
    benchmark::DoNotOptimize(batch.arena.data());
  }
  const int64_t expected = header == Header::kNone ? state.iterations() * kMessages : 0;
  if (rewritten != expected) {
    state.SkipWithError("unexpected rewrite result");
    return;
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * inputBytes));
}

void BM_AppendSyslogEventRewrite(benchmark::State& state) {
  runAppend(state, Header::kNone);
}
BENCHMARK(BM_AppendSyslogEventRewrite);

void BM_AppendSyslogEventHeaderTime(benchmark::State& state) {
  runAppend(state, Header::kRfc5424);
}
BENCHMARK(BM_AppendSyslogEventHeaderTime);

}  // namespace
}  // namespace kinesyslog::syslog
