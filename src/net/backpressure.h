#pragma once

#include <cstdint>
#include <functional>

namespace kinesyslog::net {

// Shared by all I/O threads: tells them when to stop taking data in (docs/design.md "Spool and
// delivery). While the spool is full or the encoders are far behind, TCP/TLS connections stop
// reading (the kernel then pushes back on senders) and UDP datagrams are dropped and counted.
class Backpressure {
 public:
  // `spoolFull` is polled; it must be cheap and thread-safe.
  Backpressure(std::function<bool()> spoolFull, std::function<uint64_t()> encoderQueuedBytes,
               uint64_t maxEncoderQueuedBytes)
      : spoolFull_(std::move(spoolFull)),
        encoderQueuedBytes_(std::move(encoderQueuedBytes)),
        maxEncoderQueuedBytes_(maxEncoderQueuedBytes) {}

  bool intakeBlocked() const { return spoolFull() || encodersBehind(); }
  // The spool holds --spool-max-bytes: lasting, so UDP datagrams are read and dropped.
  bool spoolFull() const { return spoolFull_(); }
  // The encoders are more than the bound behind: passing (a burst, a busy machine), so UDP
  // stops reading for a moment and datagrams wait in the kernel's socket buffer.
  bool encodersBehind() const { return encoderQueuedBytes_() > maxEncoderQueuedBytes_; }
  // Connections (all workers) the descriptor limit leaves room for (net/connection_limit.h).
  // Set once at start, before the workers run.
  void setMaxConnections(uint64_t n) { maxConnections_ = n; }
  uint64_t maxConnections() const { return maxConnections_; }
  bool connectionsFull(uint64_t open) const { return open >= maxConnections_; }

 private:
  std::function<bool()> spoolFull_;
  std::function<uint64_t()> encoderQueuedBytes_;
  uint64_t maxEncoderQueuedBytes_;
  uint64_t maxConnections_ = UINT64_MAX;
};

}  // namespace kinesyslog::net
