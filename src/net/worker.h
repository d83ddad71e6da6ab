#pragma once

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "net/loop_timer.h"
#include "net/worker_context.h"

namespace kinesyslog::net {

class UdpReceiver;
class TcpListener;
class TlsContextHolder;

// One I/O thread with its own event loop, sockets and batches (docs/design.md "Threads and
// memory"): each UDP and TCP port is bound once per worker with SO_REUSEPORT, so no lock sits on
// the receive path. Its handlers see only its WorkerContext (net/worker_context.h).
class Worker {
 public:
  // `journal` (may be null: --no-journal) receives every message before it joins a batch.
  // `time`: the system clock in the relay; a manual clock and timers in tests.
  Worker(const WorkerOptions& options, record::BatchSink& sink, Backpressure& backpressure,
         record::BatchJournal* journal = nullptr, WorkerTime time = {});
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void addUdpSocket(int fd, uint16_t port);
  // `tls` non-null: a TLS port whose connections use the holder's current context.
  void addTcpListener(int fd, uint16_t port, bool ipv6, const TlsContextHolder* tls = nullptr);
  // Starts the handlers and the flush tick, and runs the loop on the worker's own thread.
  void start();
  // Thread-safe. Stops accepting, drains connections (until the peer closes or drainIdle passes
  // without data) and UDP sockets, flushes every batch to the sink, and ends the thread. At the
  // deadline connections still open are closed, their partial messages delivered.
  void requestShutdown(std::chrono::steady_clock::time_point deadline);
  // The same, the deadline on the worker clock's monotonic scale (tests with a manual clock).
  void requestShutdownAt(int64_t deadlineMonotonicMicros);
  void join();

  // For tests that run the loop on their own thread instead of start(): starts the handlers
  // and the flush tick only; after the loop ends, finishLoop() hands the batches on.
  void startHandlers();
  void finishLoop();

  WorkerContext& context() { return context_; }

 private:
  void scheduleFlushTick();
  void beginShutdown(int64_t deadlineMonotonicMicros);
  void finishIfIdle();

  // First: the handlers below and the connections it holds use it until they are gone.
  WorkerContext context_;
  std::vector<std::unique_ptr<UdpReceiver>> udp_;
  std::vector<std::unique_ptr<TcpListener>> tcp_;
  LoopTimer flushTimer_;
  LoopTimer deadlineTimer_;
  std::thread thread_;
};

}  // namespace kinesyslog::net
