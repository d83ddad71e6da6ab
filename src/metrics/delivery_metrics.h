#pragma once

#include <atomic>
#include <cstdint>

#include "metrics/histogram.h"

namespace kinesyslog::metrics {

// What the uploader records per delivery request, for the metrics endpoint. The bucket bounds
// of the three kinesyslog 2.x histograms are 2.x's own (tenths of the PutRecordBatch and record
// limits), so dashboards built on them keep their shape.
struct DeliveryMetrics {
  Histogram batchRecords{linearBoundsFromZero(50, 10)};    // 0, 50 ... 500 records
  Histogram batchBytes{linearBoundsFromZero(524288, 8)};   // 0, 512 KiB ... 4 MiB
  Histogram recordBytes{linearBoundsFromZero(128000, 8)};  // 0, 128000 ... 1,024,000 bytes
  Histogram uploadMicros{exponentialBounds(1000, 2, 15)};  // 1 ms ... 16.4 s
  // Requests sent while the previous one had failed (the backoff's retries).
  std::atomic<uint64_t> retries{0};

  static std::vector<uint64_t> linearBoundsFromZero(uint64_t step, int count) {
    auto bounds = linearBounds(step, count);
    bounds.insert(bounds.begin(), 0);
    return bounds;
  }
};

// The process's delivery metrics (one uploader).
DeliveryMetrics& deliveryMetrics();

}  // namespace kinesyslog::metrics
