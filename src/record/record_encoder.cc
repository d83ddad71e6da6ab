#include "record/record_encoder.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "record/json_escape.h"

namespace kinesyslog::record {
namespace {

constexpr size_t kMinRecordBytes = 256;
// Records whose JSON is smaller than this fraction of the record limit move the ratio estimate
// only in proportion to their size: a handful of events from a quiet source compresses worse
// than a full record and says little about the next big batch.
constexpr double kRatioWindowShare = 0.25;
// When records compress better than predicted the estimate moves a quarter of the way down;
// when worse it moves all the way up at once, since under-estimates are what cost a second
// compression. A slow fall keeps data of mixed compressibility from being re-compressed often.
constexpr double kRatioFallRate = 0.25;
constexpr double kMinRatio = 1e-4;

constexpr std::string_view kRecordEnd = "]}";

uint64_t threadCpuNanos() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace

RecordEncoder::RecordEncoder(std::string owner, int compressionLevel, size_t maxRecordBytes)
    : compressor_(compressionLevel), maxRecordBytes_(maxRecordBytes) {
  if (maxRecordBytes < kMinRecordBytes) {
    throw std::invalid_argument("maximum record size must be at least 256 bytes");
  }
  appendJsonEscaped(ownerEscaped_, owner);
}

size_t RecordEncoder::jsonBudget() const {
  const double budget = kFillTarget * static_cast<double>(maxRecordBytes_) / ratio_;
  return budget >= static_cast<double>(kMaxRecordJsonBytes) ? kMaxRecordJsonBytes
                                                            : static_cast<size_t>(budget);
}

void RecordEncoder::appendHeader(const SourceBatch& batch) {
  header_.clear();
  header_.append(R"({"owner":")");
  header_.append(ownerEscaped_);
  header_.append(R"(","logGroup":")");
  const size_t groupStart = header_.size();
  appendJsonEscaped(header_, batch.group);
  const size_t groupEnd = header_.size();
  header_.append(R"(","logStream":")");
  appendJsonEscaped(header_, batch.stream);
  header_.append(R"(","subscriptionFilters":[")");
  header_.append(header_, groupStart, groupEnd - groupStart);
  header_.append(R"("],"messageType":"DATA_MESSAGE","logEvents":[)");
}

void RecordEncoder::appendEvent(const SourceBatch& batch, const EventRef& event) {
  // {"id":"<36>","timestamp":<int64>,"message":"
  constexpr std::string_view kIdKey = R"({"id":")";
  constexpr std::string_view kTimestampKey = R"(","timestamp":)";
  constexpr std::string_view kMessageKey = R"(,"message":")";
  char prefix[kIdKey.size() + kEventIdLength + kTimestampKey.size() + 20 + kMessageKey.size()];
  char* p = std::copy(kIdKey.begin(), kIdKey.end(), prefix);
  ids_.next(p);
  p += kEventIdLength;
  p = std::copy(kTimestampKey.begin(), kTimestampKey.end(), p);
  p = std::to_chars(p, p + 20, event.timestampMs).ptr;
  p = std::copy(kMessageKey.begin(), kMessageKey.end(), p);
  json_.append(prefix, static_cast<size_t>(p - prefix));
  appendJsonEscaped(json_, batch.message(event));
  json_.append(R"("},)");
}

size_t RecordEncoder::fragmentStart(size_t index) const {
  return index == 0 ? header_.size() : ends_[index - 1] + 1;
}

void RecordEncoder::encode(const SourceBatch& batch, RecordSink& sink) {
  if (batch.events.empty()) return;
  appendHeader(batch);
  json_.assign(header_);
  ends_.clear();
  size_t budget = jsonBudget();
  for (const EventRef& event : batch.events) {
    appendEvent(batch, event);
    ends_.push_back(json_.size() - 1);
    // Closing turns the last comma into "]}": one byte more.
    if (json_.size() + 1 <= budget) continue;
    if (ends_.size() > 1) {
      // The newest event would push the record past its target: close the record before it;
      // the event opens the next record.
      closeRecord(ends_.size() - 1, sink);
      budget = jsonBudget();
      if (json_.size() + 1 <= budget) continue;
    }
    // A lone event over the target: it gets a record of its own.
    closeRecord(1, sink);
    budget = jsonBudget();
  }
  if (!ends_.empty()) closeRecord(ends_.size(), sink);
}

void RecordEncoder::closeRecord(size_t eventCount, RecordSink& sink) {
  const size_t recordEnd = ends_[eventCount - 1];
  carry_.assign(json_, recordEnd + 1);
  json_.resize(recordEnd);
  json_.append(kRecordEnd);
  emitOrSplit(json_, 0, eventCount, sink);

  // Reopen with the events that did not go into the record.
  json_.assign(header_);
  json_.append(carry_);
  const size_t shift = recordEnd + 1 - header_.size();
  ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(eventCount));
  for (size_t& end : ends_) end -= shift;
}

// Compresses `json` (the record of fragments [first, last) of json_) and emits it, or, when it
// comes out over the limit, splits it into parts sized from the ratio just seen and recurses.
// Invariant: json_ and ends_ stay untouched until the record is fully emitted.
void RecordEncoder::emitOrSplit(std::string_view json, size_t first, size_t last,
                                RecordSink& sink) {
  const size_t capacity = compressor_.maxCompressedSize(json.size());
  if (compressed_.size() < capacity) compressed_.resize(capacity);
  // Timed on the thread's own CPU clock (a few hundred ns, once per record of megabytes), so
  // operators and the bench harness see what compression costs against everything else.
  const uint64_t cpuBefore = threadCpuNanos();
  const size_t size = compressor_.compress(json, compressed_.data(), compressed_.size());
  counters_.compressCpuNanos += threadCpuNanos() - cpuBefore;
  counters_.compressedBytesFed += json.size();
  observeRatio(json.size(), size);

  const size_t eventCount = last - first;
  if (size <= maxRecordBytes_) {
    ++counters_.records;
    counters_.events += eventCount;
    counters_.jsonBytes += json.size();
    counters_.compressedBytesOut += size;
    sink.onRecord(std::string_view(compressed_.data(), size), eventCount);
    return;
  }
  if (eventCount == 1) {
    // Cannot happen within the option limits (max message 262,144 bytes; record_encoder_test
    // checks the worst cases), but Firehose would refuse such a record forever.
    ++counters_.oversizeEvents;
    return;
  }
  ++counters_.resplits;
  // Enough parts that each, at this record's own ratio, lands near the fill target; two at
  // least, so that every step makes progress.
  const double target = kFillTarget * static_cast<double>(maxRecordBytes_);
  size_t parts = static_cast<size_t>(std::ceil(static_cast<double>(size) / target));
  parts = std::clamp<size_t>(parts, 2, eventCount);
  const size_t fragmentBytes = ends_[last - 1] - fragmentStart(first);
  size_t partFirst = first;
  for (size_t part = 1; part <= parts; ++part) {
    size_t partLast = partFirst + 1;
    if (part == parts) {
      partLast = last;
    } else {
      // Cut where the cumulative fragment bytes reach part/parts of the total, leaving at least
      // one event for each later part.
      const size_t cutBytes = fragmentBytes / parts * part;
      const size_t maxLast = last - (parts - part);
      while (partLast < maxLast && ends_[partLast - 1] - fragmentStart(first) < cutBytes) {
        ++partLast;
      }
    }
    buildPart(partFirst, partLast);
    emitOrSplit(partJson_, partFirst, partLast, sink);
    partFirst = partLast;
  }
}

void RecordEncoder::buildPart(size_t first, size_t last) {
  const size_t begin = fragmentStart(first);
  partJson_.assign(header_);
  partJson_.append(json_, begin, ends_[last - 1] - begin);
  partJson_.append(kRecordEnd);
}

void RecordEncoder::observeRatio(size_t jsonSize, size_t compressedSize) {
  if (jsonSize == 0) return;
  const double observed = static_cast<double>(compressedSize) / static_cast<double>(jsonSize);
  const double window = kRatioWindowShare * static_cast<double>(maxRecordBytes_);
  const double weight = std::min(1.0, static_cast<double>(jsonSize) / window);
  if (!calibrated_ && weight >= 1.0) {
    // The first full-size record replaces the initial guess, which carried no information.
    calibrated_ = true;
    ratio_ = std::max(kMinRatio, observed);
    return;
  }
  const double rate = observed > ratio_ ? weight : weight * kRatioFallRate;
  ratio_ = std::max(kMinRatio, ratio_ + rate * (observed - ratio_));
}

}  // namespace kinesyslog::record
