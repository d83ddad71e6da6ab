#pragma once

#include <span>
#include <string>
#include <vector>

namespace kinesyslog::deliver {

// The answer to one delivery request: which records the destination now holds.
struct [[nodiscard]] PutResult {
  // Per record, in request order. Accepted means the destination holds the record (Firehose
  // returned a RecordId), so its spool file may be deleted.
  std::vector<bool> accepted;
  // False only for errors that retrying cannot fix (not used yet: the uploader never drops a
  // spooled record on its own, docs/design.md "Spool and delivery").
  bool retryable = true;
  // Empty on full success; otherwise one line saying why (some) records were not accepted.
  std::string error;
  // The destination's quota said no: the whole request was throttled, or `throttledRecords`
  // records were refused one by one for throughput (Firehose: ServiceUnavailableException).
  // The uploader slows its send rate on it instead of backing off.
  bool requestThrottled = false;
  size_t throttledRecords = 0;
  bool throttled() const { return requestThrottled || throttledRecords > 0; }
};

// Where the uploader sends records: Firehose PutRecordBatch, or a local output directory.
// One object is called from one uploader thread at a time (each request in flight has its own).
class DeliveryTarget {
 public:
  virtual ~DeliveryTarget() = default;
  // `records` are complete gzip members, at most 500 of them and 4 MiB together. Never throws.
  virtual PutResult put(std::span<const std::string> records) = 0;
  // For the start-up log line, e.g. "output directory /var/lib/kinesyslog/out".
  virtual std::string describe() const = 0;
};

}  // namespace kinesyslog::deliver
