#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace kinesyslog::metrics {

// Kinds of per-message and per-connection problems (docs/design.md "Logging").
enum class Problem : size_t {
  kMessageTruncated,
  kFrameIncomplete,
  kGelfChunkInvalid,
  kGelfChunkDuplicate,
  kGelfChunkSetExpired,
  kGelfChunkSetEvicted,
  kGelfDecompressFailed,
  kGelfOversize,
  kGelfInvalidJson,
  kGelfMissingFields,
  kGelfInvalidTimestamp,
  kUdpDroppedSpoolFull,
  kUdpKernelDropped,
  kTcpPausedSpoolFull,
  kPartialBudgetCut,
  kConnectionError,
  kAcceptError,
  kConnectionLimit,
  kTlsClientRejected,
  kTlsHandshakeFailed,
  kTlsHandshakeTimeout,
  kProxyHeaderRejected,
  kProxyHeaderTimeout,
  kProxyUntrustedPeer,
  kSpoolWriteFailed,
  kDeliveryFailed,
  kJournalWriteFailed,
  kInternalError,
  kCount
};

// Logs a problem at most once per kind every interval, with the number suppressed since, so a
// flood of bad input costs one line per kind per interval (docs/design.md "Logging"). Thread-safe.
class ProblemLog {
 public:
  explicit ProblemLog(int64_t intervalMicros = 10'000'000) : intervalMicros_(intervalMicros) {}
  // Returns true when this report was written to the log (false: suppressed and counted).
  bool report(Problem kind, int64_t monotonicMicros, std::string_view detail);
  uint64_t reported(Problem kind) const {
    return slots_[static_cast<size_t>(kind)].total.load(std::memory_order_relaxed);
  }

 private:
  struct Slot {
    std::atomic<int64_t> lastLogged{INT64_MIN / 2};
    std::atomic<uint64_t> suppressed{0};
    std::atomic<uint64_t> total{0};
  };
  int64_t intervalMicros_;
  std::array<Slot, static_cast<size_t>(Problem::kCount)> slots_;
};

// The process's problem log.
ProblemLog& problems();

}  // namespace kinesyslog::metrics
