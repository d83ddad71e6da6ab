#include "net/tcp_connection.h"

#include <spdlog/spdlog.h>

#include <asio/post.hpp>

#include "metrics/listener_counters.h"
#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "net/tls_session.h"

namespace kinesyslog::net {

namespace {
// Reads per wake-up before yielding to other connections: one flooding source cannot starve
// the others (round-robin through the event loop).
constexpr int kReadsPerWakeup = 4;
constexpr auto kPauseRecheck = std::chrono::milliseconds(20);
}  // namespace

TcpConnection::TcpConnection(WorkerContext& worker, asio::ip::tcp::socket socket,
                             std::string source, const std::string& group,
                             std::shared_ptr<const TlsContext> tls,
                             metrics::ListenerCounters* listener)
    : worker_(worker),
      listener_(listener),
      socket_(std::move(socket)),
      source_(std::move(source)),
      protocol_(makeStreamProtocol(worker, group)),
      tls_(tls ? std::make_unique<TlsSession>(std::move(tls)) : nullptr),
      timer_(worker.makeTimer()),
      drainTimer_(worker.makeTimer()),
      budgetSlot_(worker.partialBudget().join(*this)) {
  metrics::counters().add(metrics::Counter::kTcpConnectionsActive);
}

TcpConnection::~TcpConnection() {
  leaveBudget();
  metrics::counters().sub(metrics::Counter::kTcpConnectionsActive);
}

void TcpConnection::start() {
  std::error_code ignored;
  socket_.non_blocking(true, ignored);
  lastDataMonotonic_ = worker_.clock().monotonicMicros();
  if (worker_.shuttingDown()) beginDrain();
  if (tls_) {
    beginHandshake();
    return;
  }
  waitReadable();
}

void TcpConnection::waitThen(asio::socket_base::wait_type type, void (TcpConnection::*next)()) {
  socket_.async_wait(type, [self = shared_from_this(), next](const std::error_code& error) {
    if (error || self->closed_) return;
    ((*self).*next)();
  });
}

void TcpConnection::waitReadable() {
  waitThen(asio::ip::tcp::socket::wait_read, &TcpConnection::onReadable);
}

// RFC 5425 §4.2: the client sends its ClientHello right after connecting (after the PROXY
// header, when there is one). Until the handshake is done the connection holds only OpenSSL's
// own buffers, and the timeout bounds how long a silent or stuck client keeps even those.
void TcpConnection::beginHandshake() {
  if (!tls_->attach(socket_.native_handle())) {
    rejectHandshake();
    return;
  }
  handshaking_ = true;
  timer_.expiresAfter(worker_.options().tlsHandshakeTimeout);
  timer_.asyncWait([self = shared_from_this()](const std::error_code& error) {
    if (error || self->closed_ || !self->handshaking_) return;
    self->onHandshakeTimeout();
  });
  continueHandshake();
}

void TcpConnection::continueHandshake() {
  lastDataMonotonic_ = worker_.clock().monotonicMicros();
  switch (tls_->handshake()) {
    case TlsSession::Step::kDone:
      handshaking_ = false;
      timer_.cancel();
      metrics::counters().add(metrics::Counter::kTlsHandshakes);
      spdlog::debug("TLS client {}: {}", source_, tls_->describe());
      // Application data may have come with the client's Finished message.
      onReadable();
      return;
    case TlsSession::Step::kWantRead:
      waitThen(asio::ip::tcp::socket::wait_read, &TcpConnection::continueHandshake);
      return;
    case TlsSession::Step::kWantWrite:
      waitThen(asio::ip::tcp::socket::wait_write, &TcpConnection::continueHandshake);
      return;
    case TlsSession::Step::kClosed:
    case TlsSession::Step::kFailed:
      rejectHandshake();
      return;
  }
}

void TcpConnection::onHandshakeTimeout() {
  using metrics::Counter;
  const int64_t now = worker_.clock().monotonicMicros();
  metrics::counters().add(Counter::kTlsHandshakeTimeouts);
  const auto seconds = std::chrono::duration<double>(worker_.options().tlsHandshakeTimeout);
  worker_.problems().report(
      metrics::Problem::kTlsHandshakeTimeout, now,
      fmt::format("{}: no complete TLS handshake within {} s; closed", source_, seconds.count()));
  closeNow();
}

void TcpConnection::rejectHandshake() {
  using metrics::Counter;
  using metrics::Problem;
  const TlsFailure& failure = tls_->failure();
  const int64_t now = worker_.clock().monotonicMicros();
  auto& counters = metrics::counters();
  handshaking_ = false;
  switch (failure.kind) {
    case TlsFailureKind::kAbandoned:
      // Port probes are normal behind load balancers: counted, not logged as a problem.
      counters.add(Counter::kTlsHandshakesAbandoned);
      spdlog::debug("TLS client {}: {}", source_, failure.detail);
      break;
    case TlsFailureKind::kProtocol:
      counters.add(Counter::kTlsHandshakeFailures);
      worker_.problems().report(Problem::kTlsHandshakeFailed, now, source_ + ": " + failure.detail);
      break;
    case TlsFailureKind::kNoCertificate:
    case TlsFailureKind::kUntrusted:
    case TlsFailureKind::kRevoked:
    case TlsFailureKind::kPeerName:
      counters.add(Counter::kTlsClientsRejected);
      counters.add(failure.kind == TlsFailureKind::kNoCertificate
                       ? Counter::kTlsRejectedNoCertificate
                   : failure.kind == TlsFailureKind::kUntrusted ? Counter::kTlsRejectedUntrusted
                   : failure.kind == TlsFailureKind::kRevoked   ? Counter::kTlsRejectedRevoked
                                                                : Counter::kTlsRejectedPeerName);
      worker_.problems().report(Problem::kTlsClientRejected, now, source_ + ": " + failure.detail);
      break;
  }
  closeNow();
}

void TcpConnection::retryLater(std::chrono::milliseconds delay) {
  paused_ = true;
  timer_.expiresAfter(delay);
  timer_.asyncWait([self = shared_from_this()](const std::error_code& error) {
    if (error || self->closed_) return;
    self->paused_ = false;
    self->onReadable();
  });
}

void TcpConnection::onReadable() {
  if (worker_.backpressure().intakeBlocked()) {
    metrics::counters().add(metrics::Counter::kTcpReadPauses);
    retryLater(kPauseRecheck);
    return;
  }
  auto& buffer = worker_.readBuffer();
  uint64_t bytes = 0;
  ReadStatus status = ReadStatus::kDrained;
  receiveMicros_ = worker_.clock().nowMicros();
  monotonicNow_ = worker_.clock().monotonicMicros();
  auto& budget = worker_.partialBudget();
  const size_t maxHeld = worker_.options().maxMessageSize;
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    // Room first, so that the bytes held never pass the budget: the budget cuts what it must
    // (other connections' partial messages, or this one's) and never makes a read wait.
    budget.makeRoom(budgetSlot_, maxHeld);
    size_t n = 0;
    status = readSome(buffer.data(), buffer.size(), n);
    if (n > 0) {
      bytes += n;
      protocol_->feed(std::string_view(buffer.data(), n), currentRead());
      budget.update(budgetSlot_, protocol_->heldBytes());
    }
    if (status != ReadStatus::kFull) break;  // drained what the kernel (and OpenSSL) had
  }
  // The read's messages reach the journal before anything else happens to them.
  worker_.batcher().commitJournal();
  if (bytes > 0) {
    lastDataMonotonic_ = monotonicNow_;
    metrics::counters().add(metrics::Counter::kBytesReceived, bytes);
    if (listener_ != nullptr) listener_->addBytes(bytes);
  }
  if (status == ReadStatus::kPeerClosed || status == ReadStatus::kFailed) {
    if (status == ReadStatus::kFailed) {
      metrics::counters().add(metrics::Counter::kTcpConnectionErrors);
      worker_.problems().report(metrics::Problem::kConnectionError, monotonicNow_,
                                source_ + ": " + readError_);
    }
    close(true);
    return;
  }
  publishCounters();
  if (status == ReadStatus::kWantWrite) {
    waitThen(asio::ip::tcp::socket::wait_write, &TcpConnection::onReadable);
  } else if (status == ReadStatus::kFull && tls_ && tls_->hasPending()) {
    // Bytes OpenSSL already decrypted raise no socket readiness: come back after the others.
    asio::post(worker_.io(), [self = shared_from_this()] {
      if (!self->closed_ && !self->paused_) self->onReadable();
    });
  } else {
    waitReadable();
  }
}

// The byte-transport seam: the same read loop over a plain socket or a TLS session.
TcpConnection::ReadStatus TcpConnection::readSome(char* data, size_t size, size_t& got) {
  got = 0;
  if (tls_) {
    switch (tls_->read(data, size, got)) {
      case TlsSession::Step::kDone:
        return ReadStatus::kFull;
      case TlsSession::Step::kWantRead:
        return ReadStatus::kDrained;
      case TlsSession::Step::kWantWrite:
        return ReadStatus::kWantWrite;
      case TlsSession::Step::kClosed:
        return ReadStatus::kPeerClosed;
      case TlsSession::Step::kFailed:
        readError_ = tls_->errorText();
        return ReadStatus::kFailed;
    }
  }
  std::error_code error;
  got = socket_.read_some(asio::buffer(data, size), error);
  if (error == asio::error::would_block || error == asio::error::try_again) {
    return ReadStatus::kDrained;
  }
  if (error == asio::error::eof) return ReadStatus::kPeerClosed;
  if (error) {
    readError_ = error.message();
    return ReadStatus::kFailed;
  }
  return got < size ? ReadStatus::kDrained : ReadStatus::kFull;
}

void TcpConnection::publishCounters() {
  protocol_->publishCounters(currentRead());
}

// Called by the worker's budget during another connection's read (or before this one's): the
// partial message goes out through the protocol's usual path, and reading goes on as before.
void TcpConnection::cutPartial() {
  monotonicNow_ = worker_.clock().monotonicMicros();
  receiveMicros_ = worker_.clock().nowMicros();
  protocol_->cutPartial(currentRead());
  // The cut message is journaled before it is counted as received, like every other.
  worker_.batcher().commitJournal();
  publishCounters();
}

void TcpConnection::leaveBudget() {
  if (!inBudget_) return;
  inBudget_ = false;
  worker_.partialBudget().leave(budgetSlot_);
}

void TcpConnection::beginDrain() {
  if (draining_ || closed_) return;
  draining_ = true;
  armDrainTimer();
}

void TcpConnection::armDrainTimer() {
  const auto idle = worker_.options().drainIdle;
  const int64_t idleMicros = std::chrono::duration_cast<std::chrono::microseconds>(idle).count();
  const int64_t quietFor = worker_.clock().monotonicMicros() - lastDataMonotonic_;
  // Idle means the peer sent nothing, not that we read nothing: bytes waiting in the kernel (or
  // in OpenSSL) were sent in time, and closing on them would reset the connection and lose them.
  // A worker kept from reading for the idle time (a busy or starved machine) reads them first;
  // the shutdown grace still bounds the drain.
  std::error_code ignored;
  const bool bytesWaiting = socket_.available(ignored) > 0 || (tls_ && tls_->hasPending());
  if (quietFor >= idleMicros && !paused_ && !bytesWaiting) {
    closeNow();
    return;
  }
  drainTimer_.expiresAfter(
      std::chrono::microseconds(std::max<int64_t>(idleMicros - quietFor, idleMicros / 10)));
  drainTimer_.asyncWait([self = shared_from_this()](const std::error_code& error) {
    if (error || self->closed_) return;
    self->armDrainTimer();
  });
}

void TcpConnection::closeNow() {
  if (closed_) return;
  monotonicNow_ = worker_.clock().monotonicMicros();
  receiveMicros_ = worker_.clock().nowMicros();
  close(false);
}

void TcpConnection::close(bool /*peerClosed*/) {
  if (closed_) return;
  closed_ = true;
  // What arrived is delivered rather than lost (docs/design.md "Inputs"); the protocol decides how.
  protocol_->finish(currentRead());
  worker_.batcher().commitJournal();
  publishCounters();
  leaveBudget();
  std::error_code ignored;
  timer_.cancel();
  drainTimer_.cancel();
  if (tls_) tls_->closeNotify();
  socket_.close(ignored);
  worker_.forget(this);
}

}  // namespace kinesyslog::net
