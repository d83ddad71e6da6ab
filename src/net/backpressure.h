#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace kinesyslog::net {

// Shared by all I/O threads: tells them when to stop taking data in (DESIGN §1 Spool and
// delivery). While the spool is full or the encoders are far behind, TCP/TLS connections stop
// reading (the kernel then pushes back on senders) and UDP datagrams are dropped and counted.
class Backpressure {
 public:
  // `spoolFull` is polled; it must be cheap and thread-safe.
  Backpressure(std::function<bool()> spoolFull, std::function<uint64_t()> encoderQueuedBytes,
               uint64_t maxEncoderQueuedBytes, uint64_t partialBudget)
      : spoolFull_(std::move(spoolFull)),
        encoderQueuedBytes_(std::move(encoderQueuedBytes)),
        maxEncoderQueuedBytes_(maxEncoderQueuedBytes),
        partialBudget_(partialBudget) {}

  bool intakeBlocked() const { return spoolFull() || encodersBehind(); }
  // The spool holds --spool-max-bytes: lasting, so UDP datagrams are read and dropped.
  bool spoolFull() const { return spoolFull_(); }
  // The encoders are more than the bound behind: passing (a burst, a busy machine), so UDP
  // stops reading for a moment and datagrams wait in the kernel's socket buffer.
  bool encodersBehind() const { return encoderQueuedBytes_() > maxEncoderQueuedBytes_; }

  // Partial messages held by connections share one budget; past it, the connections holding
  // more than their share pause until others complete theirs (DESIGN §1).
  void partialChanged(int64_t delta) {
    partialBytes_.fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
  }
  bool shouldPauseForPartial(uint64_t heldByConnection) const {
    uint64_t total = partialBytes_.load(std::memory_order_relaxed);
    if (total <= partialBudget_ || heldByConnection == 0) return false;
    uint64_t holders = connections_.load(std::memory_order_relaxed);
    return heldByConnection * (holders == 0 ? 1 : holders) >= total;
  }
  void connectionOpened() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void connectionClosed() { connections_.fetch_sub(1, std::memory_order_relaxed); }
  uint64_t partialBytes() const { return partialBytes_.load(std::memory_order_relaxed); }

 private:
  std::function<bool()> spoolFull_;
  std::function<uint64_t()> encoderQueuedBytes_;
  uint64_t maxEncoderQueuedBytes_;
  uint64_t partialBudget_;
  std::atomic<uint64_t> partialBytes_{0};
  std::atomic<uint64_t> connections_{0};
};

}  // namespace kinesyslog::net
