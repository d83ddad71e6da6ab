#include "net/worker.h"

#include <asio/post.hpp>

#include "net/tcp_listener.h"
#include "net/udp_receiver.h"

namespace kinesyslog::net {

Worker::Worker(const WorkerOptions& options, record::BatchSink& sink, Backpressure& backpressure,
               record::BatchJournal* journal, WorkerTime time)
    : context_(options, sink, backpressure, journal, time),
      flushTimer_(context_.makeTimer()),
      deadlineTimer_(context_.makeTimer()) {}

Worker::~Worker() {
  join();
}

void Worker::addUdpSocket(int fd, uint16_t port) {
  udp_.push_back(std::make_unique<UdpReceiver>(context_, fd, port));
}

void Worker::addTcpListener(int fd, uint16_t port, bool ipv6, const TlsContextHolder* tls) {
  tcp_.push_back(std::make_unique<TcpListener>(context_, fd, port, ipv6, tls));
}

void Worker::start() {
  startHandlers();
  thread_ = std::thread([this] {
    context_.io().run();
    finishLoop();
  });
}

void Worker::startHandlers() {
  for (auto& udp : udp_) udp->start();
  for (auto& tcp : tcp_) tcp->start();
  scheduleFlushTick();
}

void Worker::finishLoop() {
  // Everything received is now in the batches (and the journal); hand it all to the encoders.
  context_.batcher().commitJournal();
  context_.batcher().flushAll();
}

void Worker::scheduleFlushTick() {
  // Ages are checked a few times per interval, at most every 100 ms.
  auto tick = std::chrono::microseconds(
      std::clamp<int64_t>(context_.options().flushIntervalMicros / 4, 1000, 100'000));
  flushTimer_.expiresAfter(tick);
  flushTimer_.asyncWait([this](const std::error_code& error) {
    if (error || context_.shuttingDown()) return;
    // Reads commit their own messages; this only guards against a path that forgot to.
    context_.batcher().commitJournal();
    context_.batcher().flushDue(context_.clock().monotonicMicros());
    scheduleFlushTick();
  });
}

void Worker::requestShutdown(std::chrono::steady_clock::time_point deadline) {
  requestShutdownAt(
      std::chrono::duration_cast<std::chrono::microseconds>(deadline.time_since_epoch()).count());
}

void Worker::requestShutdownAt(int64_t deadlineMonotonicMicros) {
  asio::post(context_.io(),
             [this, deadlineMonotonicMicros] { beginShutdown(deadlineMonotonicMicros); });
}

void Worker::beginShutdown(int64_t deadlineMonotonicMicros) {
  if (context_.shuttingDown()) return;
  context_.beginShutdown([this] { finishIfIdle(); });
  flushTimer_.cancel();
  for (auto& tcp : tcp_) tcp->acceptQueuedAndClose();
  for (auto& udp : udp_) udp->drainAndClose();
  // A connection still waiting for its PROXY header has delivered nothing: close it.
  for (auto& preface : context_.prefaces()) preface->abandon();
  // A snapshot: draining may close connections, which forget themselves.
  for (auto& connection : context_.connections()) connection->beginDrain();
  deadlineTimer_.expiresAtMonotonic(deadlineMonotonicMicros);
  deadlineTimer_.asyncWait([this](const std::error_code& error) {
    if (error) return;
    for (auto& connection : context_.connections()) connection->closeNow();
  });
  finishIfIdle();
}

void Worker::finishIfIdle() {
  if (context_.shuttingDown() && context_.idle()) {
    deadlineTimer_.cancel();
    // Nothing else holds work: the loop returns once pending handlers have run.
  }
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace kinesyslog::net
