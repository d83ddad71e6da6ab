#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/process_metrics.h"
#include "metrics/relay_counters.h"

namespace kinesyslog::metrics {

// The state of the stages outside src/metrics at one scrape, gathered by the wiring in
// src/app (the spool, the uploader and the Firehose target are not known here).
struct SpoolSnapshot {
  uint64_t records = 0;  // spooled and not yet delivered, in flight included
  uint64_t bytes = 0;
  uint64_t maxBytes = 0;
  std::optional<double> oldestAgeSeconds;  // since the oldest record was written; nullopt: empty
};

struct UploadSnapshot {
  uint64_t requests = 0;
  uint64_t requestFailures = 0;  // requests that delivered no record
  uint64_t recordsDelivered = 0;
  uint64_t recordFailures = 0;  // per attempt
  uint64_t bytesDelivered = 0;
  uint64_t unreadable = 0;  // spool files moved to corrupt/ at delivery
  std::optional<double> failingForSeconds;
};

// One Firehose stream of --stream as the uploader sees it.
struct StreamSnapshot {
  std::string name;
  uint64_t requests = 0;
  uint64_t throttledRequests = 0;
  uint64_t recordsAccepted = 0;
  uint64_t recordsThrottled = 0;  // per attempt
  uint64_t recordsFailed = 0;     // per attempt, for any reason but the quota
  uint64_t bytesAccepted = 0;
  uint64_t rateCuts = 0;
  uint64_t sendRateBytesPerSecond = 0;  // 0: not limited (the stream has not throttled)
  uint64_t requestsInFlight = 0;
  uint64_t inFlightLimit = 0;
};

struct FirehoseSnapshot {
  std::vector<StreamSnapshot> streams;            // in --stream order
  std::map<std::string, uint64_t> recordErrors;   // per ErrorCode
  std::map<std::string, uint64_t> requestErrors;  // per AWS error code or failure kind
  uint64_t mismatchedResponses = 0;
  uint64_t throttledRequests = 0;
};

struct HttpSnapshot {
  std::map<int, uint64_t> responses;  // per status code
  uint64_t connectionsRefused = 0;    // over the connection limit
  uint64_t connectionsTimedOut = 0;   // request not complete in time
};

struct RelaySnapshot {
  uint64_t listenersOpen = 0;
  bool ready = false;
  SpoolSnapshot spool;
  UploadSnapshot upload;
  std::optional<FirehoseSnapshot> firehose;  // Firehose destination only
  HttpSnapshot http;
  ProcessStats process;
};

// The whole /metrics body: the snapshot, the process counters (counters()), the listeners'
// counts (listeners()) and the delivery histograms (deliveryMetrics()).
std::string renderMetrics(const RelaySnapshot& snapshot);

// The metric family a counter of RelayCounters is exported under (every counter has one).
std::string_view metricFamilyFor(Counter c);

}  // namespace kinesyslog::metrics
