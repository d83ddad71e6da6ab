#pragma once

#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/backpressure.h"
#include "net/owned_handlers.h"
#include "net/partial_budget.h"
#include "net/proxy_trust.h"
#include "record/batcher.h"

namespace kinesyslog::syslog {
class LocalZone;
}
namespace kinesyslog::gelf {
class GelfParser;
}
namespace kinesyslog::record {
class BatchBufferPool;
class BatchJournal;
}  // namespace kinesyslog::record

namespace kinesyslog::net {

class UdpReceiver;
class TcpListener;
class TcpConnection;
class TlsContextHolder;
class ProxyPreface;

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

// One I/O thread with its own event loop, sockets and batches (docs/design.md "Threads and
// memory"): each UDP and TCP port is bound once per worker with SO_REUSEPORT, so no lock sits on
// the receive path.
class Worker {
 public:
  // `journal` (may be null: --no-journal) receives every message before it joins a batch.
  Worker(unsigned index, const WorkerOptions& options, record::BatchSink& sink,
         Backpressure& backpressure, record::BatchJournal* journal = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void addUdpSocket(int fd, uint16_t port, bool ipv6);
  // `tls` non-null: a TLS port whose connections use the holder's current context.
  void addTcpListener(int fd, uint16_t port, bool ipv6, const TlsContextHolder* tls = nullptr);
  void start();
  // Thread-safe. Stops accepting, drains connections (until the peer closes or drainIdle passes
  // without data) and UDP sockets, flushes every batch to the sink, and ends the thread. At the
  // deadline connections still open are closed, their partial messages delivered.
  void requestShutdown(std::chrono::steady_clock::time_point deadline);
  void join();

  // For the listeners and connections of this worker (called on its thread only).
  asio::io_context& io() { return io_; }
  record::Batcher& batcher() { return batcher_; }
  Backpressure& backpressure() { return backpressure_; }
  PartialBudget& partialBudget() { return partialBudget_; }
  const WorkerOptions& options() const { return options_; }
  std::vector<char>& readBuffer() { return readBuffer_; }
  std::string groupFor(uint16_t port) const;
  // The GELF JSON checker of this thread (--gelf only): simdjson's buffers, shared by the
  // worker's UDP sockets and connections.
  gelf::GelfParser& gelfParser() { return *gelfParser_; }
  bool shuttingDown() const { return shuttingDown_; }
  void adopt(std::shared_ptr<TcpConnection> connection);
  void forget(TcpConnection* connection);
  // Connections still reading their PROXY header; closed when shutdown begins.
  void adoptPreface(std::shared_ptr<ProxyPreface> preface);
  void forgetPreface(ProxyPreface* preface);

 private:
  void scheduleFlushTick();
  void beginShutdown(std::chrono::steady_clock::time_point deadline);
  void finishIfIdle();

  unsigned index_;
  WorkerOptions options_;
  // Before io_: connections kept alive by pending handlers leave it when io_ is destroyed.
  PartialBudget partialBudget_;
  asio::io_context io_;
  record::Batcher batcher_;
  Backpressure& backpressure_;
  std::vector<char> readBuffer_;
  std::unique_ptr<gelf::GelfParser> gelfParser_;
  std::vector<std::unique_ptr<UdpReceiver>> udp_;
  std::vector<std::unique_ptr<TcpListener>> tcp_;
  OwnedHandlers<TcpConnection> connections_;
  OwnedHandlers<ProxyPreface> prefaces_;
  asio::steady_timer flushTimer_;
  asio::steady_timer deadlineTimer_;
  bool shuttingDown_ = false;
  std::thread thread_;
};

}  // namespace kinesyslog::net
