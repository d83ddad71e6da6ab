#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deliver/delivery_target.h"
#include "record/event_id.h"
#include "util/clock.h"

namespace kinesyslog::deliver {

// `--output-dir DIR` (docs/design.md "Spool and delivery"): delivers each batch as one new object
// in a local directory, laid out like the S3 objects Firehose writes, so tools that read those read
// these.
//
// An object is written under a hidden temporary name beside its final one, fsync'd, renamed
// into place and the directory fsync'd: a visible object is complete and never changes, so a
// reader may pick up anything it can see. Records are concatenated, as Firehose does, which
// makes an object a series of gzip members (RFC 1952 §2.2).
class OutputDirectoryTarget final : public DeliveryTarget {
 public:
  // Creates the directory if needed and proves it writable with a probe file; throws
  // StartupError(kExitNoPermission) naming the path and the OS error when it cannot, and
  // StartupError(kExitUsage) for a stream name that cannot be part of a file name.
  // `clock` must outlive the target.
  OutputDirectoryTarget(std::filesystem::path dir, std::string streamName, const Clock& clock);

  // Writes all records as one object; on failure (disk full...) none is accepted, nothing is
  // left visible and `error` says why. Never throws.
  PutResult put(std::span<const std::string> records) override;
  std::string describe() const override;

  // `YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>`, UTC, like Firehose's S3 keys.
  static std::string objectKey(std::string_view streamName, int64_t unixMicros,
                               std::string_view uuid);

 private:
  std::string nextUuid();  // a random v4 UUID for the object's key

  std::filesystem::path dir_;
  std::string streamName_;
  const Clock& clock_;
  record::EventIdGenerator ids_;  // put() runs on the uploader thread only
};

}  // namespace kinesyslog::deliver
