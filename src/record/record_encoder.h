#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "record/event_id.h"
#include "record/gzip.h"
#include "record/source_batch.h"

namespace kinesyslog::record {

// The Firehose record limit (PutRecordBatch: 1,000 KiB per record), docs/design.md "Records".
inline constexpr size_t kMaxRecordBytes = 1'024'000;
// A record also closes when its JSON reaches this many bytes, whatever the compression ratio,
// so that whoever decompresses a record (spool recovery, `dump`, a consumer behind Firehose)
// can bound its output. A lone event is at most 262,144 bytes escaped 6x plus its keys.
inline constexpr size_t kMaxRecordJsonBytes = size_t{32} << 20;

struct EncoderCounters {
  uint64_t records = 0;             // records handed to the sink
  uint64_t events = 0;              // events in those records
  uint64_t jsonBytes = 0;           // JSON bytes of those records
  uint64_t compressedBytesFed = 0;  // all bytes given to the compressor, re-compressions included
  uint64_t compressedBytesOut = 0;  // gzip bytes of those records
  uint64_t resplits = 0;            // records over the limit once compressed, split and redone
  uint64_t oversizeEvents = 0;      // events dropped: alone in a record and still over the limit
  uint64_t compressCpuNanos = 0;    // this thread's CPU time inside the compressor
};

// Receives finished records, in event order, on the encoding thread.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // One gzip member (RFC 1952) of at most maxRecordBytes, holding `eventCount` events. The view
  // points into the encoder's reused output buffer and is valid only during the call: a record
  // is written to the spool from there, never copied into a fresh allocation first.
  virtual void onRecord(std::string_view gzipRecord, size_t eventCount) = 0;
};

// Turns a SourceBatch into CloudWatch Logs subscription records (docs/design.md "Records"):
//   {"owner":"…","logGroup":"…","logStream":"…","subscriptionFilters":["…"],
//    "messageType":"DATA_MESSAGE","logEvents":[{"id":"…","timestamp":…,"message":"…"},…]}
// each gzip-compressed and at most maxRecordBytes long. A batch that would not fit is split
// along event boundaries; no event is split, lost, duplicated or reordered.
//
// libdeflate compresses a buffer in one call, so the size of a record is predicted from the
// compression ratio seen so far rather than found by compressing again and again: a record is
// closed when its predicted size would pass kFillTarget of the limit, and only a record that
// still turns out too big (the data got less compressible) is split and compressed again.
//
// Used by one thread at a time; buffers are kept between batches.
class RecordEncoder {
 public:
  // Fraction of maxRecordBytes a record is planned to fill; the rest absorbs estimate error.
  static constexpr double kFillTarget = 0.9;
  // Ratio assumed until a full-size record has been compressed: incompressible, so the first
  // records never need a second compression.
  static constexpr double kInitialRatio = 1.0;

  // Throws std::invalid_argument for a compression level outside 1..12 or a maxRecordBytes
  // below 256 (start-up configuration errors).
  RecordEncoder(std::string owner, int compressionLevel, size_t maxRecordBytes = kMaxRecordBytes);
  RecordEncoder(const RecordEncoder&) = delete;
  RecordEncoder& operator=(const RecordEncoder&) = delete;

  // Emits the batch's events as one or more records to `sink`; nothing for an empty batch.
  void encode(const SourceBatch& batch, RecordSink& sink);

  const EncoderCounters& counters() const { return counters_; }
  size_t maxRecordBytes() const { return maxRecordBytes_; }
  // Current estimate of compressed bytes per JSON byte.
  double estimatedRatio() const { return ratio_; }

 private:
  size_t jsonBudget() const;
  void appendHeader(const SourceBatch& batch);
  void appendEvent(const SourceBatch& batch, const EventRef& event);
  size_t fragmentStart(size_t index) const;
  void closeRecord(size_t eventCount, RecordSink& sink);
  void emitOrSplit(std::string_view json, size_t first, size_t last, RecordSink& sink);
  void buildPart(size_t first, size_t last);
  void observeRatio(size_t jsonSize, size_t compressedSize);

  std::string ownerEscaped_;
  GzipCompressor compressor_;
  size_t maxRecordBytes_;
  EventIdGenerator ids_;
  double ratio_ = kInitialRatio;
  bool calibrated_ = false;  // a full-size record has been compressed
  EncoderCounters counters_;

  // Reused buffers. json_ holds the open record: header_ then one fragment per event, each
  // followed by a comma; ends_[i] is the offset of the comma after fragment i.
  std::string header_;
  std::string json_;
  std::vector<size_t> ends_;
  std::string carry_;       // fragments moved from a closed record to the next one
  std::string partJson_;    // one part of a record being split
  std::string compressed_;  // compressor output; its size only grows
};

}  // namespace kinesyslog::record
