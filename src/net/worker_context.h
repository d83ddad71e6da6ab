#pragma once

#include <algorithm>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/backpressure.h"
#include "net/loop_timer.h"
#include "net/owned_handlers.h"
#include "net/partial_budget.h"
#include "net/proxy_trust.h"
#include "record/batcher.h"
#include "util/clock.h"

namespace kinesyslog::syslog {
class LocalZone;
}
namespace kinesyslog::gelf {
class GelfParser;
}
namespace kinesyslog::metrics {
class ProblemLog;
}
namespace kinesyslog::record {
class BatchBufferPool;
class BatchJournal;
}  // namespace kinesyslog::record

namespace kinesyslog::net {

struct WorkerOptions {
  size_t maxMessageSize = 65536;
  const syslog::LocalZone* zone = nullptr;
  uint64_t flushSizeBytes = 4 * 1024 * 1024;
  int64_t flushIntervalMicros = 60'000'000;
  std::string groupPrefix;  // empty: kinesyslog 2.x's fixed group names
  bool gelf = false;        // --gelf: every listener takes GELF instead of syslog
  std::chrono::milliseconds drainIdle{500};
  record::BatchBufferPool* batchBuffers = nullptr;  // shared with the encoders; may be null
  std::chrono::milliseconds tlsHandshakeTimeout{10'000};
  // TCP (and TLS) ports whose connections start with a PROXY v1/v2 header (--proxy-protocol),
  // and how long a connection may take to send it.
  std::vector<uint16_t> proxyProtocolPorts;
  std::chrono::milliseconds proxyHeaderTimeout{5000};
  // --proxy-trusted: peers outside it are closed at accept on those ports (empty: anyone).
  ProxyTrust proxyTrust;
  // This worker's share of --partial-budget (the budget divided by the workers); at least
  // maxMessageSize.
  uint64_t partialBudgetBytes = 64 * 1024 * 1024;

  bool expectsProxyHeader(uint16_t port) const {
    return std::find(proxyProtocolPorts.begin(), proxyProtocolPorts.end(), port) !=
           proxyProtocolPorts.end();
  }
};

// What the worker does to an open connection when shutdown begins (net/tcp_connection.h).
class DrainableConnection {
 public:
  virtual ~DrainableConnection() = default;
  // Keep reading until the peer closes or no data arrives for the drain idle time.
  virtual void beginDrain() = 0;
  // The deadline passed: deliver what is held and close now.
  virtual void closeNow() = 0;
};

// What the worker does to a connection still reading its PROXY header (net/proxy_preface.h).
class PendingConnection {
 public:
  virtual ~PendingConnection() = default;
  // Shutdown: settle it if its header is there, close it otherwise.
  virtual void abandon() = 0;
};

// Where the time of a worker comes from: the clock its handlers read and, in tests, the manual
// timers that follow that clock. The relay uses the system clock and asio's own timers.
struct WorkerTime {
  const Clock* clock = &SystemClock::instance();
  ManualTimers* manualTimers = nullptr;  // tests only
};

// Everything the listeners, connections, PROXY prefaces and UDP sockets of one worker use: its
// event loop, batches, options, the process's backpressure, its share of the partial-message
// budget, the shared read buffer, its clock and timers, the problem log, and the registry of
// the connections it keeps alive. The handlers see only this, never the Worker (net/worker.h),
// so each can be tested with a context of its own, a manual clock and no thread. One thread
// only (the worker's).
class WorkerContext {
 public:
  // `journal` (may be null: --no-journal) receives every message before it joins a batch.
  // `problems` defaults to the process's problem log.
  WorkerContext(const WorkerOptions& options, record::BatchSink& sink, Backpressure& backpressure,
                record::BatchJournal* journal = nullptr, WorkerTime time = {},
                metrics::ProblemLog* problems = nullptr);
  ~WorkerContext();
  WorkerContext(const WorkerContext&) = delete;
  WorkerContext& operator=(const WorkerContext&) = delete;

  asio::io_context& io() { return io_; }
  record::Batcher& batcher() { return batcher_; }
  const Backpressure& backpressure() const { return backpressure_; }
  PartialBudget& partialBudget() { return partialBudget_; }
  const WorkerOptions& options() const { return options_; }
  std::vector<char>& readBuffer() { return readBuffer_; }
  std::string groupFor(uint16_t port) const;
  // The GELF JSON checker of this thread (--gelf only): simdjson's buffers, shared by the
  // worker's UDP sockets and connections.
  gelf::GelfParser& gelfParser() { return *gelfParser_; }
  const Clock& clock() const { return *time_.clock; }
  LoopTimer makeTimer() { return LoopTimer(io_, time_.manualTimers); }
  metrics::ProblemLog& problems() { return *problems_; }

  bool shuttingDown() const { return shuttingDown_; }
  // The worker's shutdown has begun; `whenIdle` runs each time the last connection is forgotten.
  void beginShutdown(std::function<void()> whenIdle);

  // Connections live through their own handlers; the context holds them until they forget
  // themselves (released on the loop's next turn).
  void adopt(std::shared_ptr<DrainableConnection> connection);
  void forget(DrainableConnection* connection);
  void adoptPreface(std::shared_ptr<PendingConnection> preface);
  void forgetPreface(PendingConnection* preface);
  std::vector<std::shared_ptr<DrainableConnection>> connections() const {
    return connections_.snapshot();
  }
  std::vector<std::shared_ptr<PendingConnection>> prefaces() const { return prefaces_.snapshot(); }
  bool idle() const { return connections_.empty(); }

 private:
  WorkerOptions options_;
  WorkerTime time_;
  metrics::ProblemLog* problems_;
  // Before io_: connections kept alive by pending handlers leave it when io_ is destroyed.
  PartialBudget partialBudget_;
  asio::io_context io_;
  record::Batcher batcher_;
  Backpressure& backpressure_;
  std::vector<char> readBuffer_;
  std::unique_ptr<gelf::GelfParser> gelfParser_;
  OwnedHandlers<DrainableConnection> connections_;
  OwnedHandlers<PendingConnection> prefaces_;
  bool shuttingDown_ = false;
  std::function<void()> whenIdle_;
};

}  // namespace kinesyslog::net
