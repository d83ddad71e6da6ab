#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "net/stream_protocol.h"

namespace kinesyslog::net {

class Worker;

// One TCP connection: reads into the worker's shared buffer (an idle connection holds no read
// buffer) and hands the bytes to its StreamProtocol (syslog or GELF), which frames them and
// appends events to the worker's batches.
class TcpConnection final : public std::enable_shared_from_this<TcpConnection> {
 public:
  TcpConnection(Worker& worker, asio::ip::tcp::socket socket, std::string source,
                const std::string& group);
  ~TcpConnection();
  void start();
  // Shutdown: keep reading until the peer closes or no data arrives for the drain idle time.
  void beginDrain();
  // Deadline passed: deliver the partial message, if any, and close now.
  void closeNow();

 private:
  void waitReadable();
  void onReadable();
  void retryLater(std::chrono::milliseconds delay);
  void armDrainTimer();
  void close(bool peerClosed);
  void publishCounters();
  StreamRead currentRead() const { return StreamRead{source_, receiveMicros_, monotonicNow_}; }

  Worker& worker_;
  asio::ip::tcp::socket socket_;
  std::string source_;
  std::unique_ptr<StreamProtocol> protocol_;
  asio::steady_timer timer_;
  asio::steady_timer drainTimer_;
  size_t partialReported_ = 0;
  bool draining_ = false;
  bool closed_ = false;
  bool paused_ = false;
  int64_t lastDataMonotonic_ = 0;
  // The clocks of the current read, handed to the protocol with the bytes.
  int64_t receiveMicros_ = 0;
  int64_t monotonicNow_ = 0;
};

}  // namespace kinesyslog::net
