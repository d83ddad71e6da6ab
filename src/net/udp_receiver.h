#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/listener_counters.h"
#include "net/datagram_protocol.h"
#include "net/datagram_wakeup.h"
#include "net/loop_timer.h"

namespace kinesyslog::net {

class WorkerContext;

// One UDP socket of one worker. Reads datagrams in batches with recvmmsg (docs/design.md "Threads
// and memory") and hands each to its DatagramProtocol (net/datagram_protocol.h): one syslog
// message per datagram (RFC 5426 §3.1), or with --gelf one GELF datagram (plain, zlib, gzip or a
// chunk). The GELF protocol reassembles the chunk sets of this socket's senders, keyed by sender
// address and message id; the kernel's own SO_REUSEPORT choice hashes the 4-tuple
// and would spread the chunks of a sender that changes source ports, so with --gelf the port's
// sockets choose a chunk's socket by sender address alone (net/sender_address_steering.h) and
// every chunk of one address reaches this receiver.
class UdpReceiver {
 public:
  // Takes ownership of the bound socket `fd`.
  UdpReceiver(WorkerContext& worker, int fd, uint16_t port);
  ~UdpReceiver();
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;
  void start();
  // Shutdown: reads what the kernel still holds, then closes the socket.
  void drainAndClose();

 private:
  struct ReadResult {
    size_t datagrams = 0;
    uint64_t messages = 0;  // events made from them
    uint64_t bytes = 0;     // of the datagrams turned into events
    int64_t monotonic = 0;  // when the last batch was read
    bool dry = false;       // the socket had no more
  };
  void waitReadable();
  void readAndRearm();
  void countKernelDrops();
  // Reads up to `maxBatches` recvmmsg batches, then writes their messages to the journal.
  [[nodiscard]] ReadResult readBatches(int maxBatches);
  // One recvmmsg call; adds what it read to `result`.
  void readBatch(ReadResult& result);

  static constexpr unsigned kBatch = 32;
  // After a wake-up that found less than a batch, the next read waits this long instead of
  // waking for every few datagrams: an evenly paced sender otherwise costs one epoll sleep and
  // wake-up per two or three datagrams. The socket buffer (SO_RCVBUF, up to
  // net.core.rmem_max) holds far more than this much traffic.
  static constexpr auto kCoalesce = std::chrono::microseconds(500);
  // While the encoders are behind, how often reading is tried again.
  static constexpr auto kPauseRecheck = std::chrono::milliseconds(2);
  static constexpr size_t kDatagramBytes = 65536;  // the largest UDP payload fits

  WorkerContext& worker_;
  int fd_;  // -1 once closed
  DatagramWakeup wakeup_;
  LoopTimer coalesceTimer_;
  uint16_t port_;
  std::shared_ptr<metrics::ListenerCounters> counters_;
  std::vector<char> buffers_;
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iovecs_;
  std::vector<sockaddr_storage> addresses_;
  uint32_t kernelDropsSeen_ = 0;
  sockaddr_storage lastAddress_{};
  socklen_t lastAddressLength_ = 0;
  std::string lastSource_;

  std::unique_ptr<DatagramProtocol> protocol_;  // syslog, or GELF with --gelf
};

}  // namespace kinesyslog::net
