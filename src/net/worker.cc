#include "net/worker.h"

#include <asio/post.hpp>

#include "net/proxy_preface.h"
#include "net/tcp_connection.h"
#include "net/tcp_listener.h"
#include "net/udp_receiver.h"
#include "proto/gelf/gelf_event.h"
#include "util/clock.h"

namespace kinesyslog::net {

namespace {
constexpr size_t kReadBufferBytes = 256 * 1024;
}  // namespace

Worker::Worker(unsigned index, const WorkerOptions& options, record::BatchSink& sink,
               Backpressure& backpressure, record::BatchJournal* journal)
    : index_(index),
      options_(options),
      partialBudget_(options.partialBudgetBytes),
      io_(1),
      batcher_(options.flushSizeBytes, options.flushIntervalMicros, sink, options.batchBuffers,
               journal),
      backpressure_(backpressure),
      readBuffer_(kReadBufferBytes),
      gelfParser_(options.gelf ? std::make_unique<gelf::GelfParser>(options.maxMessageSize)
                               : nullptr),
      flushTimer_(io_),
      deadlineTimer_(io_) {}

Worker::~Worker() {
  join();
}

std::string Worker::groupFor(uint16_t port) const {
  if (options_.groupPrefix.empty()) return options_.gelf ? "gelf_message" : "syslog_message";
  // kinesyslog 2.x layout (docs/design.md "Records"): PREFIX/syslog/PORT or PREFIX/gelf/PORT.
  return options_.groupPrefix + (options_.gelf ? "/gelf/" : "/syslog/") + std::to_string(port);
}

void Worker::addUdpSocket(int fd, uint16_t port, bool ipv6) {
  udp_.push_back(std::make_unique<UdpReceiver>(*this, fd, port, ipv6));
}

void Worker::addTcpListener(int fd, uint16_t port, bool ipv6, const TlsContextHolder* tls) {
  tcp_.push_back(std::make_unique<TcpListener>(*this, fd, port, ipv6, tls));
}

void Worker::start() {
  for (auto& udp : udp_) udp->start();
  for (auto& tcp : tcp_) tcp->start();
  scheduleFlushTick();
  thread_ = std::thread([this] {
    io_.run();
    // Everything received is now in the batches (and the journal); hand it all to the encoders.
    batcher_.commitJournal();
    batcher_.flushAll();
  });
}

void Worker::scheduleFlushTick() {
  // Ages are checked a few times per interval, at most every 100 ms.
  auto tick = std::chrono::microseconds(
      std::clamp<int64_t>(options_.flushIntervalMicros / 4, 1000, 100'000));
  flushTimer_.expires_after(tick);
  flushTimer_.async_wait([this](const std::error_code& error) {
    if (error || shuttingDown_) return;
    // Reads commit their own messages; this only guards against a path that forgot to.
    batcher_.commitJournal();
    batcher_.flushDue(SystemClock::instance().monotonicMicros());
    scheduleFlushTick();
  });
}

void Worker::requestShutdown(std::chrono::steady_clock::time_point deadline) {
  asio::post(io_, [this, deadline] { beginShutdown(deadline); });
}

void Worker::beginShutdown(std::chrono::steady_clock::time_point deadline) {
  if (shuttingDown_) return;
  shuttingDown_ = true;
  flushTimer_.cancel();
  for (auto& tcp : tcp_) tcp->acceptQueuedAndClose();
  for (auto& udp : udp_) udp->drainAndClose();
  // A connection still waiting for its PROXY header has delivered nothing: close it.
  for (auto& preface : prefaces_.snapshot()) preface->abandon();
  // A snapshot: draining may close connections, which forget themselves.
  for (auto& connection : connections_.snapshot()) connection->beginDrain();
  deadlineTimer_.expires_at(deadline);
  deadlineTimer_.async_wait([this](const std::error_code& error) {
    if (error) return;
    for (auto& connection : connections_.snapshot()) connection->closeNow();
  });
  finishIfIdle();
}

void Worker::adopt(std::shared_ptr<TcpConnection> connection) {
  connections_.adopt(std::move(connection));
}

void Worker::forget(TcpConnection* connection) {
  if (connections_.forget(connection, io_) && shuttingDown_) finishIfIdle();
}

void Worker::adoptPreface(std::shared_ptr<ProxyPreface> preface) {
  prefaces_.adopt(std::move(preface));
}

void Worker::forgetPreface(ProxyPreface* preface) {
  prefaces_.forget(preface, io_);
}

void Worker::finishIfIdle() {
  if (shuttingDown_ && connections_.empty()) {
    deadlineTimer_.cancel();
    // Nothing else holds work: the loop returns once pending handlers have run.
  }
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace kinesyslog::net
