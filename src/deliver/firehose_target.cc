#include "deliver/firehose_target.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace kinesyslog::deliver {
namespace {

constexpr size_t kMaxCodesInError = 4;

// "ServiceUnavailableException x2, InternalFailure x1": most frequent first, then by name.
std::string summarise(const std::map<std::string, uint64_t>& codes) {
  std::vector<std::pair<std::string, uint64_t>> sorted(codes.begin(), codes.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (size_t i = 0; i < sorted.size() && i < kMaxCodesInError; ++i) {
    if (i > 0) out.append(", ");
    out.append(fmt::format("{} x{}", sorted[i].first, sorted[i].second));
  }
  if (sorted.size() > kMaxCodesInError) {
    out.append(fmt::format(" and {} more codes", sorted.size() - kMaxCodesInError));
  }
  return out;
}

}  // namespace

FirehoseTarget::FirehoseTarget(aws::FirehoseClient& client, std::string streamName)
    : client_(client), streamName_(std::move(streamName)) {}

PutResult FirehoseTarget::put(std::span<const std::string> records) {
  PutResult result;
  result.accepted.assign(records.size(), false);
  if (records.empty()) return result;

  aws::PutBatchResult answer = client_.putRecordBatch(streamName_, records);
  if (answer.error) {
    const aws::FirehoseError& e = *answer.error;
    result.retryable = e.retryable;
    // Firehose throttles a whole request with ServiceUnavailableException "Slow down." as a
    // server fault (HTTP 500), or with a throttling code; an HTTP 503 "Service Unavailable" is
    // an outage of the endpoint, which says nothing about the stream's quota: backoff only.
    result.requestThrottled = e.kind == aws::FirehoseErrorKind::Throttled && e.httpStatus != 503;
    result.error =
        fmt::format("PutRecordBatch of {} records failed: {}", records.size(), e.describe());
    std::lock_guard lock(mutex_);
    count(requestErrors_, e.type.empty() ? std::string(aws::toString(e.kind)) : e.type, 1);
    if (e.kind == aws::FirehoseErrorKind::Throttled) ++throttled_;
    return result;
  }

  if (answer.responses.size() != records.size()) {
    // Entries are matched to records by position only; with a different count no RecordId
    // can be trusted to belong to a given record, so nothing is deleted.
    result.error =
        fmt::format("PutRecordBatch answered {} results for {} records; all treated as failed",
                    answer.responses.size(), records.size());
    std::lock_guard lock(mutex_);
    ++mismatched_;
    return result;
  }

  std::map<std::string, uint64_t> failures;
  const aws::PutRecordResponse* firstFailure = nullptr;
  size_t failed = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const aws::PutRecordResponse& entry = answer.responses[i];
    if (!entry.recordId.empty() && entry.errorCode.empty()) {
      result.accepted[i] = true;
      continue;
    }
    ++failed;
    // Firehose's per-record answer when the stream's throughput quota is exceeded.
    if (entry.errorCode == "ServiceUnavailableException") ++result.throttledRecords;
    ++failures[entry.errorCode.empty() ? std::string("NoRecordId") : entry.errorCode];
    if (firstFailure == nullptr) firstFailure = &entry;
  }
  if (failed == 0) return result;

  result.error =
      fmt::format("{} of {} records failed: {}", failed, records.size(), summarise(failures));
  if (firstFailure != nullptr && !firstFailure->errorMessage.empty()) {
    result.error.append(fmt::format(" (first: {})", firstFailure->errorMessage));
  }
  std::lock_guard lock(mutex_);
  for (const auto& [code, n] : failures) count(recordErrors_, code, n);
  if (failures.count("ServiceUnavailableException") > 0) ++throttled_;
  return result;
}

std::string FirehoseTarget::describe() const {
  return fmt::format("Firehose stream {} in {} ({})", streamName_, client_.region(),
                     client_.endpoint());
}

void FirehoseTarget::count(std::map<std::string, uint64_t>& counts, const std::string& code,
                           uint64_t n) {
  auto it = counts.find(code);
  if (it != counts.end()) {
    it->second += n;
  } else if (counts.size() < kMaxDistinctCodes) {
    counts.emplace(code, n);
  } else {
    counts["other"] += n;
  }
}

std::map<std::string, uint64_t> FirehoseTarget::recordErrorCounts() const {
  std::lock_guard lock(mutex_);
  return recordErrors_;
}

std::map<std::string, uint64_t> FirehoseTarget::requestErrorCounts() const {
  std::lock_guard lock(mutex_);
  return requestErrors_;
}

uint64_t FirehoseTarget::throttledRequests() const {
  std::lock_guard lock(mutex_);
  return throttled_;
}

uint64_t FirehoseTarget::mismatchedResponses() const {
  std::lock_guard lock(mutex_);
  return mismatched_;
}

}  // namespace kinesyslog::deliver
