#pragma once

#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "net/loop_timer.h"
#include "net/partial_budget.h"
#include "net/stream_protocol.h"
#include "net/worker_context.h"

namespace kinesyslog::net {

class TlsContext;
class TlsSession;

// One TCP or TLS connection of one worker (it sees only the WorkerContext): reads into the
// worker's shared buffer (an idle connection holds
// no read buffer) and hands the bytes to its StreamProtocol (syslog or GELF), which frames them
// and appends events to the worker's batches.
// With a TLS context it is an RFC 5425 connection: a handshake stage (bounded by the handshake
// timeout) comes first, then the same read loop over TLS records (RFC 5425 §4.3: the same
// octet-counted framing inside TLS; GELF's NUL-ended frames likewise).
// Its partial message is charged to the worker's PartialBudget, which may cut it to make room
// for another connection's read.
class TcpConnection final : public std::enable_shared_from_this<TcpConnection>,
                            public DrainableConnection,
                            private PartialBudget::Holder {
 public:
  TcpConnection(WorkerContext& worker, asio::ip::tcp::socket socket, std::string source,
                const std::string& group, std::shared_ptr<const TlsContext> tls = nullptr,
                metrics::ListenerCounters* listener = nullptr);
  ~TcpConnection();
  void start();
  // Shutdown: keep reading until the peer closes or no data arrives for the drain idle time.
  void beginDrain() override;
  // Deadline passed: deliver the partial message, if any, and close now.
  void closeNow() override;

 private:
  // How one read from the byte transport (plain socket or TLS session) ended.
  enum class ReadStatus : uint8_t { kFull, kDrained, kWantWrite, kPeerClosed, kFailed };

  void waitThen(asio::socket_base::wait_type type, void (TcpConnection::*next)());
  void waitReadable();
  void onReadable();
  ReadStatus readSome(char* data, size_t size, size_t& got);
  void beginHandshake();
  void continueHandshake();
  void onHandshakeTimeout();
  void rejectHandshake();
  void retryLater(std::chrono::milliseconds delay);
  void armDrainTimer();
  void close(bool peerClosed);
  void cutPartial() override;
  void leaveBudget();
  void publishCounters();
  StreamRead currentRead() const {
    return StreamRead{source_, receiveMicros_, monotonicNow_, listener_};
  }

  WorkerContext& worker_;
  metrics::ListenerCounters* listener_;  // kept alive by metrics::listeners(); may be null
  asio::ip::tcp::socket socket_;
  std::string source_;
  std::unique_ptr<StreamProtocol> protocol_;
  std::unique_ptr<TlsSession> tls_;  // null for plain TCP
  std::string readError_;            // why the last read failed (kFailed)
  LoopTimer timer_;                  // handshake timeout, then backpressure rechecks
  LoopTimer drainTimer_;
  PartialBudget::Slot budgetSlot_;
  bool inBudget_ = true;
  bool draining_ = false;
  bool closed_ = false;
  bool paused_ = false;
  bool handshaking_ = false;
  int64_t lastDataMonotonic_ = 0;
  // The clocks of the current read, handed to the protocol with the bytes.
  int64_t receiveMicros_ = 0;
  int64_t monotonicNow_ = 0;
};

}  // namespace kinesyslog::net
