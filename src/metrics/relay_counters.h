#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace kinesyslog::metrics {

// Every decision the relay makes about a message or connection is counted (docs/contributing.md).
// Counters are process-wide relaxed atomics: each is bumped once per batch or per problem, never
// in a tight per-byte loop, so contention stays negligible.
enum class Counter : size_t {
  kMessagesReceived,
  kBytesReceived,
  kMessagesTruncated,
  kFramesIncomplete,
  kFramesEmpty,
  kBytesDiscarded,
  kMessagesRewritten,
  kGelfChunks,
  kGelfChunksInvalid,
  kGelfChunksDuplicate,
  kGelfChunkedMessages,
  kGelfChunkSetsExpired,
  kGelfChunkSetsEvicted,
  kGelfDecompressFailed,
  kGelfOversizeDropped,
  kGelfInvalidJson,
  kGelfMissingFields,
  kGelfInvalidTimestamp,
  kUdpDatagrams,
  kUdpDropped,
  kUdpKernelDropped,
  kUdpReadPauses,
  kTcpConnectionsAccepted,
  kTcpConnectionsActive,
  kTcpConnectionErrors,
  kTcpReadPauses,
  kTcpAcceptPauses,    // accepting paused 100 ms: connection limit reached, or accept failed
  kPartialBudgetCuts,  // partial messages cut to keep connections within --partial-budget
  kTlsHandshakes,
  kTlsHandshakeFailures,
  kTlsHandshakeTimeouts,
  kTlsHandshakesAbandoned,
  kTlsClientsRejected,
  kTlsRejectedNoCertificate,
  kTlsRejectedUntrusted,
  kTlsRejectedRevoked,
  kTlsRejectedPeerName,
  kTlsReloads,
  kTlsReloadFailures,
  kProxyHeadersAccepted,   // --proxy-protocol connections whose header was valid
  kProxyHeadersRejected,   // missing, malformed or truncated header: connection closed
  kProxyHeaderTimeouts,    // no complete header within the timeout: connection closed
  kProxyHeadersAbandoned,  // still waiting for the header at shutdown: connection closed
  kProxyUntrustedPeers,    // peer outside --proxy-trusted: closed at accept, nothing read
  kBatchesFlushed,
  kRecordsEncoded,
  kRecordResplits,
  kEventsOversizeDropped,
  kJsonBytes,
  kCompressedBytesFed,
  kSpoolWrites,
  kSpoolWriteErrors,
  kSpoolRecovered,
  kSpoolCorrupt,
  kRecordsDelivered,
  kDeliveryFailures,
  kJournalBytesWritten,      // frames appended to the journal
  kJournalWriteErrors,       // journal writes the disk refused (messages unprotected until spooled)
  kJournalReplayedMessages,  // messages of an earlier run's journal spooled at start
  kJournalReplaySkipped,     // journaled messages found already spooled at start
  kJournalCorruptSegments,   // segments with a damaged or torn frame (read up to it)
  kShutdownUnspooledMessages,  // in memory when the shutdown grace ran out (disk failing)
  kInternalErrors,  // states the code holds impossible, met and survived (metrics/internal_error.h)
  kCompressionCpuMicros,  // thread CPU time the encoders spent inside the compressor
  kCount
};

// Prometheus-style snake_case names, in enum order.
std::string_view counterName(Counter c);

class RelayCounters {
 public:
  void add(Counter c, uint64_t n = 1) {
    values_[static_cast<size_t>(c)].fetch_add(n, std::memory_order_relaxed);
  }
  void sub(Counter c, uint64_t n = 1) {
    values_[static_cast<size_t>(c)].fetch_sub(n, std::memory_order_relaxed);
  }
  uint64_t get(Counter c) const {
    return values_[static_cast<size_t>(c)].load(std::memory_order_relaxed);
  }
  // "name=value name=value ..." for the counters log lines. `plus` adds counts kept elsewhere
  // (the uploader's) to the values printed without storing them here, so a line can be logged
  // any number of times without counting anything twice.
  std::string format(std::span<const std::pair<Counter, uint64_t>> plus = {}) const;

 private:
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Counter::kCount)> values_{};
};

// The process's counters. One instance; tests may read it.
RelayCounters& counters();

}  // namespace kinesyslog::metrics
