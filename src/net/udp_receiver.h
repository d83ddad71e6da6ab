#pragma once

#include <sys/socket.h>

#include <asio/ip/udp.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace kinesyslog::net {

class Worker;

// One UDP socket of one worker. Reads datagrams in batches with recvmmsg (DESIGN §3): one
// message per datagram (RFC 5426 §3.1).
class UdpReceiver {
 public:
  UdpReceiver(Worker& worker, int fd, uint16_t port, bool ipv6);
  void start();
  // Shutdown: reads what the kernel still holds, then closes the socket.
  void drainAndClose();

 private:
  void waitReadable();
  // Reads up to `maxBatches` recvmmsg batches; returns false when the socket ran dry.
  bool readBatches(int maxBatches);

  static constexpr unsigned kBatch = 32;
  static constexpr size_t kDatagramBytes = 65536;  // the largest UDP payload fits

  Worker& worker_;
  asio::ip::udp::socket socket_;
  std::string group_;
  std::vector<char> buffers_;
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iovecs_;
  std::vector<sockaddr_storage> addresses_;
  sockaddr_storage lastAddress_{};
  socklen_t lastAddressLength_ = 0;
  std::string lastSource_;
};

}  // namespace kinesyslog::net
