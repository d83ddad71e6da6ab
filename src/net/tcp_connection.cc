#include "net/tcp_connection.h"

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "net/worker.h"
#include "util/clock.h"

namespace kinesyslog::net {

namespace {
// Reads per wake-up before yielding to other connections: one flooding source cannot starve
// the others (round-robin through the event loop).
constexpr int kReadsPerWakeup = 4;
constexpr auto kPauseRecheck = std::chrono::milliseconds(20);
}  // namespace

TcpConnection::TcpConnection(Worker& worker, asio::ip::tcp::socket socket, std::string source,
                             const std::string& group)
    : worker_(worker),
      socket_(std::move(socket)),
      source_(std::move(source)),
      protocol_(makeStreamProtocol(worker, group)),
      timer_(worker.io()),
      drainTimer_(worker.io()) {
  worker_.backpressure().connectionOpened();
  metrics::counters().add(metrics::Counter::kTcpConnectionsActive);
}

TcpConnection::~TcpConnection() {
  worker_.backpressure().partialChanged(-static_cast<int64_t>(partialReported_));
  worker_.backpressure().connectionClosed();
  metrics::counters().sub(metrics::Counter::kTcpConnectionsActive);
}

void TcpConnection::start() {
  std::error_code ignored;
  socket_.non_blocking(true, ignored);
  lastDataMonotonic_ = SystemClock::instance().monotonicMicros();
  if (worker_.shuttingDown()) beginDrain();
  waitReadable();
}

void TcpConnection::waitReadable() {
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const std::error_code& error) {
                       if (error || self->closed_) return;
                       self->onReadable();
                     });
}

void TcpConnection::retryLater(std::chrono::milliseconds delay) {
  paused_ = true;
  timer_.expires_after(delay);
  timer_.async_wait([self = shared_from_this()](const std::error_code& error) {
    if (error || self->closed_) return;
    self->paused_ = false;
    self->onReadable();
  });
}

void TcpConnection::onReadable() {
  auto& backpressure = worker_.backpressure();
  if (backpressure.intakeBlocked() ||
      backpressure.shouldPauseForPartial(protocol_->bufferedBytes())) {
    metrics::counters().add(metrics::Counter::kTcpReadPauses);
    retryLater(kPauseRecheck);
    return;
  }
  auto& buffer = worker_.readBuffer();
  uint64_t bytes = 0;
  bool peerClosed = false;
  std::error_code error;
  receiveMicros_ = SystemClock::instance().nowMicros();
  monotonicNow_ = SystemClock::instance().monotonicMicros();
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    size_t n = socket_.read_some(asio::buffer(buffer), error);
    if (n > 0) {
      bytes += n;
      protocol_->feed(std::string_view(buffer.data(), n), currentRead());
    }
    if (error) {
      if (error == asio::error::would_block || error == asio::error::try_again) {
        error.clear();
      } else {
        peerClosed = true;
      }
      break;
    }
    if (n < buffer.size()) break;  // drained what the kernel had
  }
  if (bytes > 0) {
    lastDataMonotonic_ = monotonicNow_;
    metrics::counters().add(metrics::Counter::kBytesReceived, bytes);
  }
  if (peerClosed) {
    if (error != asio::error::eof) {
      metrics::counters().add(metrics::Counter::kTcpConnectionErrors);
      metrics::problems().report(metrics::Problem::kConnectionError, monotonicNow_,
                                 source_ + ": " + error.message());
    }
    close(true);
    return;
  }
  publishCounters();
  waitReadable();
}

void TcpConnection::publishCounters() {
  protocol_->publishCounters(currentRead());
  size_t partial = protocol_->bufferedBytes();
  if (partial != partialReported_) {
    worker_.backpressure().partialChanged(static_cast<int64_t>(partial) -
                                          static_cast<int64_t>(partialReported_));
    partialReported_ = partial;
  }
}

void TcpConnection::beginDrain() {
  if (draining_ || closed_) return;
  draining_ = true;
  armDrainTimer();
}

void TcpConnection::armDrainTimer() {
  const auto idle = worker_.options().drainIdle;
  const int64_t idleMicros = std::chrono::duration_cast<std::chrono::microseconds>(idle).count();
  const int64_t quietFor = SystemClock::instance().monotonicMicros() - lastDataMonotonic_;
  if (quietFor >= idleMicros && !paused_) {
    closeNow();
    return;
  }
  drainTimer_.expires_after(
      std::chrono::microseconds(std::max<int64_t>(idleMicros - quietFor, idleMicros / 10)));
  drainTimer_.async_wait([self = shared_from_this()](const std::error_code& error) {
    if (error || self->closed_) return;
    self->armDrainTimer();
  });
}

void TcpConnection::closeNow() {
  if (closed_) return;
  monotonicNow_ = SystemClock::instance().monotonicMicros();
  receiveMicros_ = SystemClock::instance().nowMicros();
  close(false);
}

void TcpConnection::close(bool /*peerClosed*/) {
  if (closed_) return;
  closed_ = true;
  // What arrived is delivered rather than lost (DESIGN §1 Inputs); the protocol decides how.
  protocol_->finish(currentRead());
  publishCounters();
  std::error_code ignored;
  timer_.cancel();
  drainTimer_.cancel();
  socket_.close(ignored);
  worker_.forget(this);
}

}  // namespace kinesyslog::net
