// Covered by app/options_test.cc (the refusals and their messages) and
// tests/integration/test_options.py.
#include "app/option_validation.h"

#include <fmt/format.h>

#include <thread>

#include "net/peer_name.h"
#include "net/proxy_trust.h"
#include "proto/syslog/local_zone.h"
#include "record/record_encoder.h"

namespace kinesyslog::app {

namespace {
constexpr uint64_t kMaxMessageSizeLimit = 262144;  // docs/design.md "Events": "at most 262144"
}  // namespace

std::optional<std::string> validateListenOptions(ListenOptions& o) {
  if (o.maxMessageSize == 0 || o.maxMessageSize > kMaxMessageSizeLimit) {
    return std::string("--max-message-size " + std::to_string(o.maxMessageSize) +
                       " is out of range (1 to 262144)");
  }
  // Batch offsets are 32-bit; a flush size past 1 GiB also makes no sense for 4 MiB requests.
  if (o.flushSize < 1024 || o.flushSize > (1ull << 30)) {
    return std::string("--flush-size must be between 1K and 1G");
  }
  // Values that start a relay that can never deliver are refused (docs/operations.md): a spool
  // that cannot hold one record of the largest size would never accept it (TCP stays paused,
  // every datagram is dropped).
  if (o.spoolMaxBytes < record::kMaxRecordBytes) {
    return std::string(
        fmt::format("--spool-max-bytes {} is below one record ({} bytes, the Firehose "
                    "record limit)",
                    o.spoolMaxBytes, record::kMaxRecordBytes));
  }
  if (!syslog::LocalZone::find(o.rfc3164Timezone)) {
    return std::string("--rfc3164-timezone: unknown time zone '" + o.rfc3164Timezone + "'");
  }
  for (const auto& peer : o.allowedPeers) {
    if (!net::validAllowedPeer(peer)) {
      return std::string(
          "--allowed-peer '" + peer +
          "' is not a DNS name (a '*' may only stand as the whole first label, '*.')");
    }
  }
  for (const auto& trusted : o.proxyTrusted) {
    const auto parsed = net::parseNetwork(trusted);
    if (!parsed.network) return std::string("--proxy-trusted '" + trusted + "': " + parsed.error);
  }
  if (o.verifyClient.empty()) o.verifyClient = o.ca.empty() ? "none" : "required";
  if (o.workers == 0) o.workers = std::max(1u, std::thread::hardware_concurrency());
  // Each worker owns an equal share of the partial-message budget and must be able to hold one
  // message of the maximum size; a smaller share would cut every message longer than it.
  if (o.partialBudget / o.workers < o.maxMessageSize) {
    return std::string("--partial-budget " + std::to_string(o.partialBudget) +
                       " is below one --max-message-size (" + std::to_string(o.maxMessageSize) +
                       ") per worker (" + std::to_string(o.workers) + " workers)");
  }
  return std::nullopt;
}

}  // namespace kinesyslog::app
