#include "record/record_encoder.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <time.h>

#include <cstdio>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "record/backslash_replace_oracle.h"
#include "record/gzip.h"
#include "record/json_escape.h"

namespace kinesyslog::record {
namespace {

using oracle::backslashReplace;

constexpr char kOwner[] = "123456789012";

struct Event {
  int64_t timestamp;
  std::string message;
  bool operator==(const Event&) const = default;
};

class CollectingSink : public RecordSink {
 public:
  void onRecord(std::string_view gzipRecord, size_t eventCount) override {
    records.emplace_back(gzipRecord);
    counts.push_back(eventCount);
  }
  std::vector<std::string> records;
  std::vector<size_t> counts;
};

bool isUuidV4(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return id[14] == '4' && std::string_view("89ab").find(id[19]) != std::string_view::npos;
}

// Checks every record (size, gzip, JSON shape and key order) and returns their events in order.
// Ids go into `ids`, which must not have seen them before.
std::vector<Event> decodeAll(const CollectingSink& sink, size_t maxRecordBytes,
                             const SourceBatch& batch, std::set<std::string>& ids) {
  std::vector<Event> events;
  simdjson::dom::parser parser;
  for (size_t r = 0; r < sink.records.size(); ++r) {
    const std::string& record = sink.records[r];
    EXPECT_LE(record.size(), maxRecordBytes) << "record " << r;
    const auto json = gunzip(record, kMaxRecordJsonBytes);
    EXPECT_TRUE(json.has_value()) << "record " << r;
    if (!json) return events;
    EXPECT_LE(json->size(), kMaxRecordJsonBytes);
    simdjson::dom::object root;
    const simdjson::padded_string padded(*json);
    auto error = parser.parse(padded).get(root);
    EXPECT_FALSE(error) << error;
    if (error) return events;
    std::vector<std::string_view> keys;
    for (auto field : root) keys.push_back(field.key);
    EXPECT_EQ(keys,
              (std::vector<std::string_view>{"owner", "logGroup", "logStream",
                                             "subscriptionFilters", "messageType", "logEvents"}));
    EXPECT_EQ(std::string_view(root["owner"]), kOwner);
    EXPECT_EQ(std::string_view(root["logGroup"]), backslashReplace(batch.group));
    EXPECT_EQ(std::string_view(root["logStream"]), backslashReplace(batch.stream));
    simdjson::dom::array filters = root["subscriptionFilters"];
    EXPECT_EQ(filters.size(), 1u);
    EXPECT_EQ(std::string_view(filters.at(0)), backslashReplace(batch.group));
    EXPECT_EQ(std::string_view(root["messageType"]), "DATA_MESSAGE");
    simdjson::dom::array logEvents = root["logEvents"];
    EXPECT_EQ(logEvents.size(), sink.counts[r]);
    EXPECT_GT(logEvents.size(), 0u);
    for (simdjson::dom::object event : logEvents) {
      std::vector<std::string_view> eventKeys;
      for (auto field : event) eventKeys.push_back(field.key);
      EXPECT_EQ(eventKeys, (std::vector<std::string_view>{"id", "timestamp", "message"}));
      const std::string_view id = event["id"];
      EXPECT_TRUE(isUuidV4(id)) << id;
      EXPECT_TRUE(ids.insert(std::string(id)).second) << "duplicate id " << id;
      events.push_back(
          Event{int64_t(event["timestamp"]), std::string(std::string_view(event["message"]))});
    }
  }
  return events;
}

std::vector<Event> expectedEvents(const SourceBatch& batch) {
  std::vector<Event> events;
  for (const EventRef& ref : batch.events) {
    events.push_back(Event{ref.timestampMs, backslashReplace(batch.message(ref))});
  }
  return events;
}

// Encodes `batch` and checks the records hold exactly its events, in order, within the limit.
CollectingSink encodeAndCheck(RecordEncoder& encoder, const SourceBatch& batch,
                              std::set<std::string>& ids) {
  CollectingSink sink;
  const EncoderCounters before = encoder.counters();
  encoder.encode(batch, sink);
  const std::vector<Event> decoded = decodeAll(sink, encoder.maxRecordBytes(), batch, ids);
  const std::vector<Event> expected = expectedEvents(batch);
  EXPECT_EQ(decoded.size(), expected.size());
  EXPECT_TRUE(decoded == expected) << "events differ";
  const EncoderCounters& after = encoder.counters();
  EXPECT_EQ(after.records - before.records, sink.records.size());
  EXPECT_EQ(after.events - before.events, batch.events.size());
  size_t bytesOut = 0;
  for (const std::string& record : sink.records) bytesOut += record.size();
  EXPECT_EQ(after.compressedBytesOut - before.compressedBytesOut, bytesOut);
  EXPECT_EQ(after.oversizeEvents, before.oversizeEvents);
  return sink;
}

CollectingSink encodeAndCheck(RecordEncoder& encoder, const SourceBatch& batch) {
  std::set<std::string> ids;
  return encodeAndCheck(encoder, batch, ids);
}

SourceBatch makeBatch(std::string group = "syslog_message", std::string stream = "127.0.0.1") {
  SourceBatch batch;
  batch.group = std::move(group);
  batch.stream = std::move(stream);
  return batch;
}

// A ~200-byte RFC 5424 line with the variety real traffic has (numbers, paths, agents).
std::string typicalLine(std::mt19937& rng, int64_t i) {
  static const char* const kApps[] = {"nginx", "sshd", "kernel", "postfix/smtpd", "cron"};
  static const char* const kPaths[] = {"/api/v1/items", "/login", "/static/app.js", "/healthz",
                                       "/api/v2/orders/search"};
  const auto draw = [&rng](uint32_t bound) { return static_cast<unsigned>(rng() % bound); };
  char line[512];
  const int n = std::snprintf(
      line, sizeof(line),
      "<%u>1 2024-06-01T12:%02u:%02u.%06u+00:00 web-%02u.example.com %s %u - - 10.%u.%u.%u - - "
      "\"GET %s/%u?page=%u HTTP/1.1\" %u %u \"-\" \"Mozilla/5.0 (X11; Linux x86_64) %u\"",
      130 + draw(8), static_cast<unsigned>(i / 60 % 60), static_cast<unsigned>(i % 60),
      draw(1000000), draw(16), kApps[draw(5)], 1000 + draw(30000), draw(256), draw(256), draw(256),
      kPaths[draw(5)], draw(100000), draw(50), draw(2) ? 200u : 404u, draw(60000), draw(100));
  return std::string(line, static_cast<size_t>(n));
}

void addTypical(SourceBatch& batch, size_t totalBytes, uint32_t seed) {
  std::mt19937 rng(seed);
  for (int64_t i = 0; batch.messageBytes() < totalBytes; ++i) {
    batch.addEvent(1519247270240 + i, typicalLine(rng, i));
  }
}

// Random text: printable ASCII with some escapes, multi-byte UTF-8 and invalid bytes; barely
// compressible.
std::string randomMessage(std::mt19937& rng, size_t size) {
  std::string s;
  s.reserve(size);
  while (s.size() < size) {
    const uint32_t r = rng();
    if (r % 50 == 0) {
      s.push_back(static_cast<char>(r >> 8 & 0xFF));
    } else if (r % 50 == 1) {
      s.append("\xe2\x82\xac");
    } else {
      s.push_back(static_cast<char>(0x20 + (r >> 8) % 95));
    }
  }
  s.resize(size);
  return s;
}

TEST(RecordEncoderTest, ExactJsonLayout) {
  SourceBatch batch = makeBatch();
  batch.addEvent(1519247270240,
                 "<13>1 2018-02-21T21:07:50.239881+00:00 host.example.com user 4326 - - Hello");
  batch.addEvent(-5, "quote \" backslash \\ newline \n bad \xff euro \xe2\x82\xac");
  batch.addEvent(0, "");
  RecordEncoder encoder(kOwner, 6);
  CollectingSink sink;
  encoder.encode(batch, sink);
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.counts[0], 3u);
  const auto json = gunzip(sink.records[0], 1 << 20);
  ASSERT_TRUE(json.has_value());
  // The ids are random: take them from the output, check everything else byte for byte.
  std::vector<std::string> ids;
  for (size_t pos = 0; (pos = json->find("{\"id\":\"", pos)) != std::string::npos; pos += 7) {
    ids.push_back(json->substr(pos + 7, 36));
  }
  ASSERT_EQ(ids.size(), 3u);
  const std::string expected =
      R"({"owner":"123456789012","logGroup":"syslog_message","logStream":"127.0.0.1",)"
      R"("subscriptionFilters":["syslog_message"],"messageType":"DATA_MESSAGE","logEvents":[)"
      R"({"id":")" +
      ids[0] +
      R"(","timestamp":1519247270240,"message":"<13>1 )"
      R"(2018-02-21T21:07:50.239881+00:00 host.example.com user 4326 - - Hello"},)"
      R"({"id":")" +
      ids[1] +
      R"(","timestamp":-5,"message":"quote \" backslash \\ newline \n )"
      "bad \\\\xff euro \xe2\x82\xac\"},"
      R"({"id":")" +
      ids[2] + R"(","timestamp":0,"message":""}]})";
  EXPECT_EQ(*json, expected);
  for (const std::string& id : ids) EXPECT_TRUE(isUuidV4(id)) << id;
  std::set<std::string> seen;
  EXPECT_EQ(decodeAll(sink, kMaxRecordBytes, batch, seen), expectedEvents(batch));
  EXPECT_EQ(encoder.counters().jsonBytes, json->size());
  EXPECT_EQ(encoder.counters().compressedBytesFed, json->size());
}

// The compressor's CPU time is counted (exported as kinesyslog_compression_cpu_seconds_total):
// more than nothing for megabytes of JSON, and never more than the thread spent in encode().
TEST(RecordEncoderTest, CountsTheCpuTimeSpentCompressing) {
  RecordEncoder encoder("000000000000", 6);
  std::mt19937 rng(7);
  SourceBatch batch = makeBatch();
  for (int64_t i = 0; i < 20'000; ++i) batch.addEvent(1519247270240 + i, typicalLine(rng, i));
  timespec start{}, end{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  CollectingSink sink;
  encoder.encode(batch, sink);
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
  const int64_t threadNanos =
      (end.tv_sec - start.tv_sec) * 1'000'000'000LL + (end.tv_nsec - start.tv_nsec);
  EXPECT_GT(encoder.counters().compressCpuNanos, 0u);
  EXPECT_LE(encoder.counters().compressCpuNanos, static_cast<uint64_t>(threadNanos));
}

TEST(RecordEncoderTest, EmptyBatchEmitsNothing) {
  RecordEncoder encoder(kOwner, 1);
  CollectingSink sink;
  encoder.encode(makeBatch(), sink);
  EXPECT_TRUE(sink.records.empty());
  EXPECT_EQ(encoder.counters().records, 0u);
  EXPECT_EQ(encoder.counters().compressedBytesFed, 0u);
}

TEST(RecordEncoderTest, SingleEvent) {
  SourceBatch batch = makeBatch("gelf_message", "2001:db8::1");
  batch.addEvent(1700000000000, "{\"short_message\":\"hi\"}");
  RecordEncoder encoder(kOwner, 6);
  const CollectingSink sink = encodeAndCheck(encoder, batch);
  EXPECT_EQ(sink.records.size(), 1u);
}

TEST(RecordEncoderTest, GroupAndStreamAreEscaped) {
  SourceBatch batch = makeBatch("prefix/\"odd\"\\group\xff/syslog/514", "weird\nstream");
  batch.addEvent(1, "m");
  RecordEncoder encoder(kOwner, 6);
  encodeAndCheck(encoder, batch);
}

TEST(RecordEncoderTest, TenThousandSmallEventsSmallLimit) {
  SourceBatch batch = makeBatch();
  std::mt19937 rng(1);
  for (int i = 0; i < 10000; ++i) {
    batch.addEvent(i, i % 7 == 0 ? randomMessage(rng, 40) : typicalLine(rng, i).substr(0, 60));
  }
  RecordEncoder encoder(kOwner, 6, 20000);
  const CollectingSink sink = encodeAndCheck(encoder, batch);
  EXPECT_GT(sink.records.size(), 10u);
  // Records are filled: all but the last reach a good share of the limit.
  size_t total = 0;
  for (const std::string& record : sink.records) total += record.size();
  EXPECT_GT(total / sink.records.size(), 20000u / 2);
  EXPECT_LE(static_cast<double>(encoder.counters().compressedBytesFed) /
                static_cast<double>(encoder.counters().jsonBytes),
            1.2);
}

TEST(RecordEncoderTest, LargeBarelyCompressibleMessages) {
  SourceBatch batch = makeBatch();
  std::mt19937 rng(2);
  for (int i = 0; i < 120; ++i) batch.addEvent(i, randomMessage(rng, 200 * 1024 - i));
  RecordEncoder encoder(kOwner, 1);
  const CollectingSink sink = encodeAndCheck(encoder, batch);
  EXPECT_GT(sink.records.size(), 20u);
}

TEST(RecordEncoderTest, MixedSizesAtSeveralLimitsAndLevels) {
  for (const size_t limit : {size_t{20000}, size_t{100000}, kMaxRecordBytes}) {
    for (const int level : {1, 6}) {
      RecordEncoder encoder(kOwner, level, limit);
      std::mt19937 rng(static_cast<uint32_t>(limit + level));
      std::set<std::string> ids;
      for (int round = 0; round < 3; ++round) {
        SourceBatch batch = makeBatch("syslog_message", "192.0.2." + std::to_string(round));
        const int count = 1 + static_cast<int>(rng() % 2500);
        for (int i = 0; i < count; ++i) {
          const uint32_t kind = rng() % 100;
          // Sizes spread over small, typical, large; large ones stay below the small limit
          // when it is in force, so that every message fits.
          const size_t big = limit == 20000 ? 12000 : 60000;
          if (kind < 60) {
            batch.addEvent(i, typicalLine(rng, i));
          } else if (kind < 90) {
            batch.addEvent(i, randomMessage(rng, rng() % 400));
          } else if (kind < 99) {
            batch.addEvent(i, randomMessage(rng, rng() % big));
          } else {
            batch.addEvent(i, std::string(rng() % (big * 4), 'a'));  // compresses ~1000:1
          }
        }
        SCOPED_TRACE(testing::Message() << "limit " << limit << " level " << level);
        encodeAndCheck(encoder, batch, ids);
      }
    }
  }
}

TEST(RecordEncoderTest, FedToJsonRatioOnTypicalBatch) {
  SourceBatch batch = makeBatch();
  addTypical(batch, 4 << 20, 3);
  for (const int level : {1, 6}) {
    RecordEncoder encoder(kOwner, level);
    const CollectingSink sink = encodeAndCheck(encoder, batch);
    const EncoderCounters& c = encoder.counters();
    const double ratio =
        static_cast<double>(c.compressedBytesFed) / static_cast<double>(c.jsonBytes);
    EXPECT_LE(ratio, 1.2) << "level " << level;
    EXPECT_EQ(c.resplits, 0u);
    // A second batch through the same encoder benefits from the learned ratio: fewer, fuller
    // records.
    const CollectingSink again = encodeAndCheck(encoder, batch);
    EXPECT_LE(again.records.size(), sink.records.size());
    EXPECT_LE(static_cast<double>(encoder.counters().compressedBytesFed) /
                  static_cast<double>(encoder.counters().jsonBytes),
              1.2);
  }
}

TEST(RecordEncoderTest, WorstCaseSingleMessageFits) {
  // The largest message the options allow (262,144 bytes), in the contents that escape worst
  // or compress worst: each must still fit in one default-size record.
  constexpr size_t kMaxMessage = 262144;
  std::mt19937 rng(4);
  std::vector<std::string> messages;
  std::string s(kMaxMessage, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);  // uniform bytes
  messages.push_back(s);
  for (char& c : s) c = static_cast<char>(0x80 | (rng() & 0x7F));  // all invalid -> \\xnn
  messages.push_back(s);
  for (char& c : s) c = static_cast<char>(rng() % 0x20);  // all control -> \u00xx
  messages.push_back(s);
  for (char& c : s) {  // mix of every escape form
    const uint32_t r = rng();
    c = static_cast<char>(r % 3 == 0   ? r >> 8 & 0x1F
                          : r % 3 == 1 ? 0x80 | (r >> 8 & 0x7F)
                                       : r >> 8);
  }
  messages.push_back(s);
  for (size_t i = 0; i + 4 <= s.size(); i += 4) {  // random valid 4-byte characters
    const uint32_t cp = 0x10000 + rng() % 0x100000;
    s[i] = static_cast<char>(0xF0 | cp >> 18);
    s[i + 1] = static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    s[i + 2] = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    s[i + 3] = static_cast<char>(0x80 | (cp & 0x3F));
  }
  messages.push_back(s);
  messages.push_back(std::string(kMaxMessage, '\x01'));
  for (const int level : {1, 6, 12}) {
    for (size_t m = 0; m < messages.size(); ++m) {
      SourceBatch batch = makeBatch("prefix/that/is/rather/long/syslog/65535",
                                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
      batch.addEvent(INT64_MIN, messages[m]);
      RecordEncoder encoder(kOwner, level);
      const CollectingSink sink = encodeAndCheck(encoder, batch);
      ASSERT_EQ(sink.records.size(), 1u) << "level " << level << " message " << m;
      EXPECT_LT(sink.records[0].size(), kMaxRecordBytes * 6 / 10)
          << "level " << level << " message " << m;
    }
  }
}

TEST(RecordEncoderTest, DataTurningIncompressibleIsResplitWithoutLoss) {
  RecordEncoder encoder(kOwner, 1, 50000);
  std::set<std::string> ids;
  // Teach the encoder a very good ratio, then send random data.
  SourceBatch compressible = makeBatch();
  for (int i = 0; i < 2000; ++i) compressible.addEvent(i, std::string(500, 'x'));
  encodeAndCheck(encoder, compressible, ids);
  EXPECT_LT(encoder.estimatedRatio(), 0.1);

  SourceBatch random = makeBatch();
  std::mt19937 rng(5);
  for (int i = 0; i < 3000; ++i) random.addEvent(i, randomMessage(rng, 300));
  encodeAndCheck(encoder, random, ids);
  EXPECT_GE(encoder.counters().resplits, 1u);
  EXPECT_GT(encoder.estimatedRatio(), 0.5);
  // The misprediction costs one re-compression of one record, not many.
  EXPECT_LE(static_cast<double>(encoder.counters().compressedBytesFed) /
                static_cast<double>(encoder.counters().jsonBytes),
            2.0);
}

TEST(RecordEncoderTest, LoneEventOverTheLimitIsDroppedAndCounted) {
  // Impossible with the real limit and message size cap; with a tiny limit it shows that such
  // an event is counted rather than sent to Firehose, which would refuse it forever.
  SourceBatch batch = makeBatch();
  std::mt19937 rng(6);
  batch.addEvent(1, "before");
  batch.addEvent(2, randomMessage(rng, 5000));
  batch.addEvent(3, "after");
  RecordEncoder encoder(kOwner, 6, 1000);
  CollectingSink sink;
  encoder.encode(batch, sink);
  EXPECT_EQ(encoder.counters().oversizeEvents, 1u);
  std::set<std::string> ids;
  SourceBatch kept = makeBatch();
  kept.addEvent(1, "before");
  kept.addEvent(3, "after");
  EXPECT_EQ(decodeAll(sink, 1000, batch, ids), expectedEvents(kept));
  EXPECT_EQ(encoder.counters().events, 2u);
}

TEST(RecordEncoderTest, IdsAreUniqueAcrossBatches) {
  RecordEncoder encoder(kOwner, 1, 20000);
  std::set<std::string> ids;
  for (int round = 0; round < 5; ++round) {
    SourceBatch batch = makeBatch();
    addTypical(batch, 300000, static_cast<uint32_t>(round));
    encodeAndCheck(encoder, batch, ids);
  }
}

TEST(RecordEncoderTest, RejectsBadConfiguration) {
  EXPECT_THROW(RecordEncoder(kOwner, 0), std::invalid_argument);
  EXPECT_THROW(RecordEncoder(kOwner, 13), std::invalid_argument);
  EXPECT_THROW(RecordEncoder(kOwner, 6, 100), std::invalid_argument);
}

}  // namespace
}  // namespace kinesyslog::record
