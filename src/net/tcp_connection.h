#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "proto/syslog/stream_framer.h"

namespace kinesyslog::net {

class Worker;

// One TCP syslog connection: reads into the worker's shared buffer (an idle connection holds
// no read buffer), frames with RFC 6587 and appends events to the worker's batches.
class TcpConnection final : public std::enable_shared_from_this<TcpConnection>,
                            private syslog::FrameSink {
 public:
  TcpConnection(Worker& worker, asio::ip::tcp::socket socket, std::string source,
                const std::string& group);
  ~TcpConnection() override;
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
  void onFrame(std::string_view message, syslog::FrameFlags flags) override;
  void publishCounters();

  Worker& worker_;
  asio::ip::tcp::socket socket_;
  std::string source_;
  std::string group_;
  syslog::StreamFramer framer_;
  asio::steady_timer timer_;
  asio::steady_timer drainTimer_;
  size_t partialReported_ = 0;
  bool draining_ = false;
  bool closed_ = false;
  bool paused_ = false;
  int64_t lastDataMonotonic_ = 0;
  // Per-read tallies, published once per read to keep atomics off the per-message path.
  int64_t receiveMicros_ = 0;
  int64_t monotonicNow_ = 0;
  uint64_t messages_ = 0, truncated_ = 0, rewritten_ = 0;
  syslog::FramerCounters framerReported_{};
};

}  // namespace kinesyslog::net
