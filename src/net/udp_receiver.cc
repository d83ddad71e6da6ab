#include "net/udp_receiver.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "metrics/listener_counters.h"
#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "net/listen_socket.h"
#include "net/worker_context.h"

namespace kinesyslog::net {

UdpReceiver::UdpReceiver(WorkerContext& worker, int fd, uint16_t port, bool ipv6)
    : worker_(worker),
      socket_(worker.io(), ipv6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), fd),
      coalesceTimer_(worker.makeTimer()),
      port_(port),
      counters_(metrics::listeners().add("udp", port)),
      buffers_(kBatch * kDatagramBytes),
      headers_(kBatch),
      iovecs_(kBatch),
      addresses_(kBatch),
      controls_(kBatch),
      protocol_(makeDatagramProtocol(worker, worker.groupFor(port))) {
  // The kernel then reports, with each datagram, how many it dropped on this socket because
  // its buffer was full, so those losses are counted too (docs/design.md "Spool and delivery":
  // nothing is dropped silently).
  int one = 1;
  ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
}

void UdpReceiver::start() {
  waitReadable();
}

void UdpReceiver::waitReadable() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](const std::error_code& error) {
    if (error) return;  // closed
    readAndRearm();
  });
}

void UdpReceiver::readAndRearm() {
  const auto& backpressure = worker_.backpressure();
  if (backpressure.encodersBehind() && !backpressure.spoolFull()) {
    // A passing backlog: leave the datagrams in the socket buffer (megabytes) until the
    // encoders catch up, rather than reading them only to drop them.
    metrics::counters().add(metrics::Counter::kUdpReadPauses);
    coalesceTimer_.expiresAfter(kPauseRecheck);
    coalesceTimer_.asyncWait([this](const std::error_code& error) {
      if (error || !socket_.is_open()) return;
      readAndRearm();
    });
    return;
  }
  // A bounded number of batches per wake-up keeps one busy port from starving the others.
  const ReadResult read = readBatches(8);
  if (worker_.shuttingDown() || !socket_.is_open()) return;
  if (read.datagrams == 0 || !read.dry) {
    // Idle (sleep until data arrives) or busy (more is waiting: come back at once).
    waitReadable();
    return;
  }
  // Traffic is flowing but thinly: collect a fuller batch before the next read.
  coalesceTimer_.expiresAfter(kCoalesce);
  coalesceTimer_.asyncWait([this](const std::error_code& error) {
    if (error || !socket_.is_open()) return;
    readAndRearm();
  });
}

UdpReceiver::ReadResult UdpReceiver::readBatches(int maxBatches) {
  ReadResult result;
  using metrics::Counter;
  auto& counters = metrics::counters();
  for (int round = 0; round < maxBatches; ++round) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iovecs_[i] = {buffers_.data() + i * kDatagramBytes, kDatagramBytes};
      headers_[i].msg_hdr = {};
      headers_[i].msg_hdr.msg_iov = &iovecs_[i];
      headers_[i].msg_hdr.msg_iovlen = 1;
      headers_[i].msg_hdr.msg_name = &addresses_[i];
      headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      headers_[i].msg_hdr.msg_control = controls_[i].bytes;
      headers_[i].msg_hdr.msg_controllen = sizeof controls_[i].bytes;
    }
    int received =
        ::recvmmsg(socket_.native_handle(), headers_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (received <= 0) {
      if (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        worker_.problems().report(metrics::Problem::kConnectionError,
                                  worker_.clock().monotonicMicros(),
                                  std::string("UDP receive: ") + std::strerror(errno));
      }
      result.dry = true;
      return result;
    }
    result.datagrams += static_cast<size_t>(received);
    counters.add(Counter::kUdpDatagrams, static_cast<uint64_t>(received));
    countKernelDrops(headers_[received - 1].msg_hdr);
    if (worker_.backpressure().spoolFull()) {
      counters.add(Counter::kUdpDropped, static_cast<uint64_t>(received));
      worker_.problems().report(metrics::Problem::kUdpDroppedSpoolFull,
                                worker_.clock().monotonicMicros(), "spool full; datagrams dropped");
      continue;
    }
    const int64_t receiveMicros = worker_.clock().nowMicros();
    const int64_t monotonic = worker_.clock().monotonicMicros();
    uint64_t messages = 0, bytes = 0;
    for (int i = 0; i < received; ++i) {
      const msghdr& header = headers_[i].msg_hdr;
      if (header.msg_namelen != lastAddressLength_ ||
          std::memcmp(&addresses_[i], &lastAddress_, header.msg_namelen) != 0) {
        lastAddressLength_ = header.msg_namelen;
        std::memcpy(&lastAddress_, &addresses_[i], header.msg_namelen);
        lastSource_ = addressText(&addresses_[i], header.msg_namelen);
      }
      std::string_view datagram(buffers_.data() + static_cast<size_t>(i) * kDatagramBytes,
                                headers_[i].msg_len);
      bytes += datagram.size();
      messages += protocol_->feed(datagram, DatagramRead{lastSource_, receiveMicros, monotonic});
    }
    // One journal write per recvmmsg call, before the messages are counted as received.
    worker_.batcher().commitJournal();
    counters.add(Counter::kMessagesReceived, messages);
    counters.add(Counter::kBytesReceived, bytes);
    counters_->addMessages(messages);
    counters_->addBytes(bytes);
    protocol_->publishCounters(monotonic, lastSource_);
    if (received < static_cast<int>(kBatch)) {
      result.dry = true;
      return result;
    }
  }
  return result;
}

void UdpReceiver::countKernelDrops(const msghdr& header) {
  for (const cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&header), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL) continue;
    uint32_t total = 0;
    std::memcpy(&total, CMSG_DATA(c), sizeof total);
    // The kernel's count is per socket, cumulative and 32-bit: the difference wraps correctly.
    const uint32_t dropped = total - kernelDropsSeen_;
    kernelDropsSeen_ = total;
    if (dropped == 0) return;
    metrics::counters().add(metrics::Counter::kUdpKernelDropped, dropped);
    worker_.problems().report(metrics::Problem::kUdpKernelDropped,
                              worker_.clock().monotonicMicros(),
                              fmt::format("the kernel dropped {} datagrams on port {}: socket "
                                          "buffer full (net.core.rmem_max limits SO_RCVBUF)",
                                          dropped, port_));
    return;
  }
}

void UdpReceiver::drainAndClose() {
  coalesceTimer_.cancel();
  while (!readBatches(64).dry) {
  }
  protocol_->finish(worker_.clock().monotonicMicros());
  std::error_code ignored;
  socket_.close(ignored);
}

}  // namespace kinesyslog::net
