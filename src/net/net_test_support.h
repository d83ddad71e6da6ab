#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/ip/tcp.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "net/backpressure.h"
#include "net/loop_timer.h"
#include "net/worker_context.h"
#include "proto/syslog/local_zone.h"
#include "record/batcher.h"
#include "util/clock.h"

// Test support for the network layer, header-only and free of GoogleTest: a worker context on
// a manual clock whose loop the test runs on its own thread, loopback sockets, and the events
// the context's batches delivered. Nothing sleeps: time moves only when the test advances the
// clock, and socket readiness is polled from the loop.
namespace kinesyslog::net::testing {

// Keeps every flushed batch.
class CollectingSink final : public record::BatchSink {
 public:
  void onBatch(record::SourceBatch&& batch) override { batches.push_back(std::move(batch)); }
  std::vector<std::string> messages() const {
    std::vector<std::string> all;
    for (const auto& batch : batches) {
      for (const auto& event : batch.events) all.emplace_back(batch.message(event));
    }
    return all;
  }
  std::vector<std::string> streams() const {
    std::vector<std::string> all;
    for (const auto& batch : batches) all.push_back(batch.stream);
    return all;
  }
  std::vector<record::SourceBatch> batches;
};

// The process backpressure, switched by the test.
struct SwitchedBackpressure {
  bool spoolFull = false;
  bool encodersBehind = false;
  Backpressure backpressure{[this] { return spoolFull; },
                            [this] { return encodersBehind ? uint64_t{2} : uint64_t{0}; }, 1};
};

// A counter's growth since the fixture was made (the counters are process-wide).
class CounterDelta {
 public:
  explicit CounterDelta(metrics::Counter counter)
      : counter_(counter), start_(metrics::counters().get(counter)) {}
  uint64_t operator()() const { return metrics::counters().get(counter_) - start_; }

 private:
  metrics::Counter counter_;
  uint64_t start_;
};

inline WorkerOptions testOptions() {
  static const syslog::LocalZone utc = syslog::LocalZone::utc();
  WorkerOptions options;
  options.zone = &utc;
  options.flushIntervalMicros = 1'000'000;
  return options;
}

// A worker context on a manual clock, its loop run by the test.
class ManualWorld {
 public:
  explicit ManualWorld(WorkerOptions options = testOptions())
      : clock_(1'700'000'000'000'000),
        timers_(clock_),
        context_(options, sink_, pressure_.backpressure, nullptr, WorkerTime{&clock_, &timers_},
                 &problems_) {}

  WorkerContext& context() { return context_; }
  ManualClock& clock() { return clock_; }
  ManualTimers& timers() { return timers_; }
  CollectingSink& sink() { return sink_; }
  SwitchedBackpressure& pressure() { return pressure_; }
  metrics::ProblemLog& problems() { return problems_; }
  WorkerTime time() { return WorkerTime{&clock_, &timers_}; }

  // Runs every handler that is ready now (socket readiness included), without waiting.
  void poll() {
    auto& io = context_.io();
    for (int round = 0; round < 8; ++round) {
      io.restart();
      if (io.poll() == 0) return;
    }
  }
  // Polls the loop until `done` holds, for socket events the kernel delivers (loopback is
  // immediate, but an accept or a close may take a turn or two). Waits on the loop, at most
  // five seconds in all, never on the clock the code under test reads.
  bool pollUntil(const std::function<bool()>& done) {
    auto& io = context_.io();
    for (int round = 0; round < 500 && !done(); ++round) {
      io.restart();
      io.run_one_for(std::chrono::milliseconds(10));
      poll();
    }
    return done();
  }
  // Moves the manual clock forward and runs what became due.
  void advance(std::chrono::microseconds delta) {
    timers_.advance(delta);
    poll();
  }
  // Everything batched so far, flushed.
  std::vector<std::string> delivered() {
    context_.batcher().commitJournal();
    context_.batcher().flushAll();
    return sink_.messages();
  }

 private:
  ManualClock clock_;
  ManualTimers timers_;
  CollectingSink sink_;
  SwitchedBackpressure pressure_;
  metrics::ProblemLog problems_;
  WorkerContext context_;
};

// A listening TCP socket on 127.0.0.1 with a port the kernel picked.
class LoopbackListener {
 public:
  LoopbackListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(fd_, 64);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~LoopbackListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  uint16_t port() const { return port_; }
  // The descriptor, for a TcpListener that takes it over.
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Accepts one queued connection as an asio socket on `io`.
  asio::ip::tcp::socket accept(asio::io_context& io) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    return asio::ip::tcp::socket(io, asio::ip::tcp::v4(), fd);
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A blocking client socket connected to 127.0.0.1:port.
class LoopbackClient {
 public:
  explicit LoopbackClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~LoopbackClient() { close(); }
  LoopbackClient(const LoopbackClient&) = delete;
  LoopbackClient& operator=(const LoopbackClient&) = delete;
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Half-closes: the relay sees the end of the stream.
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // True once the relay has closed its end (a read returns 0 or fails), without blocking.
  bool peerClosed() {
    char byte;
    ssize_t n = ::recv(fd_, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace kinesyslog::net::testing
