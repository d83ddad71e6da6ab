#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "aws/firehose_client.h"
#include "deliver/delivery_target.h"

namespace kinesyslog::deliver {

// Delivers batches with Firehose PutRecordBatch (docs/design.md "Spool and delivery"). A record is
// accepted only when Firehose returned a RecordId for it, since that is what allows its spool
// file to be deleted; every other outcome leaves it to the uploader's retries.
//
// `client` must outlive the target. put() runs on one uploader lane's thread (each lane of a
// stream has its own target and client); the counters may be read from any thread (the
// metrics endpoint), and a stream's counts are the sum over its lanes' targets.
class FirehoseTarget final : public DeliveryTarget {
 public:
  FirehoseTarget(aws::FirehoseClient& client, std::string streamName);

  // Never throws. A whole-request failure accepts nothing (retryable as classified); a
  // response whose RequestResponses count differs from the request's is treated as all failed,
  // because entries can then not be matched to records.
  PutResult put(std::span<const std::string> records) override;
  // "Firehose stream NAME in REGION (ENDPOINT)".
  std::string describe() const override;

  // Records refused one by one, per ErrorCode (e.g. "ServiceUnavailableException"), since
  // start. Codes past kMaxDistinctCodes are counted under "other", so a misbehaving endpoint
  // cannot grow the map without bound.
  std::map<std::string, uint64_t> recordErrorCounts() const;
  // Whole-request failures, per AWS error code or, without one, per kind ("transport",
  // "server_error"...), since start; bounded the same way.
  std::map<std::string, uint64_t> requestErrorCounts() const;
  // Responses whose RequestResponses did not match the records sent.
  uint64_t mismatchedResponses() const;
  // Requests throttled: whole (ThrottlingException, ServiceUnavailableException, HTTP 429) or
  // for some of their records (ErrorCode ServiceUnavailableException, Firehose's throttle).
  uint64_t throttledRequests() const;

  static constexpr size_t kMaxDistinctCodes = 64;

 private:
  // Requires mutex_.
  void count(std::map<std::string, uint64_t>& counts, const std::string& code, uint64_t n);

  aws::FirehoseClient& client_;
  std::string streamName_;

  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> recordErrors_;   // guarded by mutex_
  std::map<std::string, uint64_t> requestErrors_;  // guarded by mutex_
  uint64_t mismatched_ = 0;                        // guarded by mutex_
  uint64_t throttled_ = 0;                         // guarded by mutex_
};

}  // namespace kinesyslog::deliver
