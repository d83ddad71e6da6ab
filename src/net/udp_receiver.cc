#include "net/udp_receiver.h"

#include <fmt/format.h>
#include <linux/sock_diag.h>

#include <cerrno>
#include <cstring>

#include "metrics/listener_counters.h"
#include "metrics/problem_log.h"
#include "metrics/relay_counters.h"
#include "net/listen_socket.h"
#include "net/worker_context.h"

namespace kinesyslog::net {

UdpReceiver::UdpReceiver(WorkerContext& worker, int fd, uint16_t port)
    : worker_(worker),
      fd_(fd),
      wakeup_(worker.io(), fd),
      coalesceTimer_(worker.makeTimer()),
      port_(port),
      counters_(metrics::listeners().add("udp", port)),
      buffers_(kBatch * kDatagramBytes),
      headers_(kBatch),
      iovecs_(kBatch),
      addresses_(kBatch),
      protocol_(makeDatagramProtocol(worker, worker.groupFor(port))) {}

UdpReceiver::~UdpReceiver() {
  wakeup_.close();
  if (fd_ >= 0) ::close(fd_);
}

void UdpReceiver::start() {
  waitReadable();
}

void UdpReceiver::waitReadable() {
  wakeup_.asyncWait([this](const std::error_code& error) {
    if (error || fd_ < 0) return;  // closed
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
      if (error || fd_ < 0) return;
      readAndRearm();
    });
    return;
  }
  // A bounded number of batches per wake-up keeps one busy port from starving the others.
  const ReadResult read = readBatches(8);
  if (worker_.shuttingDown() || fd_ < 0) return;
  if (read.datagrams == 0 || !read.dry) {
    // Idle (sleep until data arrives) or busy (more is waiting: come back at once).
    waitReadable();
    return;
  }
  // Traffic is flowing but thinly: collect a fuller batch before the next read.
  coalesceTimer_.expiresAfter(kCoalesce);
  coalesceTimer_.asyncWait([this](const std::error_code& error) {
    if (error || fd_ < 0) return;
    readAndRearm();
  });
}

UdpReceiver::ReadResult UdpReceiver::readBatches(int maxBatches) {
  countKernelDrops();
  ReadResult result;
  for (int round = 0; round < maxBatches && !result.dry; ++round) readBatch(result);
  // One journal write per wake-up (up to maxBatches recvmmsg calls; TCP writes one per wake-up of
  // up to four reads), before the messages are counted as received. A write per call was most of
  // the relay's write(2) calls over paced UDP.
  worker_.batcher().commitJournal();
  using metrics::Counter;
  auto& counters = metrics::counters();
  counters.add(Counter::kMessagesReceived, result.messages);
  counters.add(Counter::kBytesReceived, result.bytes);
  counters_->addMessages(result.messages);
  counters_->addBytes(result.bytes);
  if (result.datagrams > 0) protocol_->publishCounters(result.monotonic, lastSource_);
  return result;
}

void UdpReceiver::readBatch(ReadResult& result) {
  for (unsigned i = 0; i < kBatch; ++i) {
    iovecs_[i] = {buffers_.data() + i * kDatagramBytes, kDatagramBytes};
    headers_[i].msg_hdr = {};
    headers_[i].msg_hdr.msg_iov = &iovecs_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
    headers_[i].msg_hdr.msg_name = &addresses_[i];
    headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
  }
  const int received = ::recvmmsg(fd_, headers_.data(), kBatch, MSG_DONTWAIT, nullptr);
  if (received <= 0) {
    if (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      worker_.problems().report(metrics::Problem::kConnectionError,
                                worker_.clock().monotonicMicros(),
                                std::string("UDP receive: ") + std::strerror(errno));
    }
    result.dry = true;
    return;
  }
  using metrics::Counter;
  auto& counters = metrics::counters();
  result.datagrams += static_cast<size_t>(received);
  result.dry = received < static_cast<int>(kBatch);
  counters.add(Counter::kUdpDatagrams, static_cast<uint64_t>(received));
  result.monotonic = worker_.clock().monotonicMicros();
  if (worker_.backpressure().spoolFull()) {
    counters.add(Counter::kUdpDropped, static_cast<uint64_t>(received));
    worker_.problems().report(metrics::Problem::kUdpDroppedSpoolFull, result.monotonic,
                              "spool full; datagrams dropped");
    return;
  }
  const int64_t receiveMicros = worker_.clock().nowMicros();
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
    result.bytes += datagram.size();
    result.messages +=
        protocol_->feed(datagram, DatagramRead{lastSource_, receiveMicros, result.monotonic});
  }
}

// The kernel counts the datagrams it dropped on this socket (its buffer full), cumulative, and
// getsockopt(SO_MEMINFO) reads the count (sock_diag's SK_MEMINFO_DROPS), so those losses are
// counted too (docs/design.md "Spool and delivery": nothing is dropped silently). Read once per
// wake-up: SO_RXQ_OVFL gave the same count in a control message with every datagram, which cost
// 2 % of the relay's CPU over paced UDP (profile), for a number that only needs to be current
// when the relay reads.
void UdpReceiver::countKernelDrops() {
  uint32_t memory[SK_MEMINFO_VARS] = {};
  socklen_t length = sizeof memory;
  if (::getsockopt(fd_, SOL_SOCKET, SO_MEMINFO, memory, &length) != 0 ||
      length <= SK_MEMINFO_DROPS * sizeof(uint32_t)) {
    return;
  }
  const uint32_t total = memory[SK_MEMINFO_DROPS];
  // Per socket, cumulative and 32-bit: the difference wraps correctly.
  const uint32_t dropped = total - kernelDropsSeen_;
  kernelDropsSeen_ = total;
  if (dropped == 0) return;
  metrics::counters().add(metrics::Counter::kUdpKernelDropped, dropped);
  worker_.problems().report(metrics::Problem::kUdpKernelDropped, worker_.clock().monotonicMicros(),
                            fmt::format("the kernel dropped {} datagrams on port {}: socket "
                                        "buffer full (net.core.rmem_max limits SO_RCVBUF)",
                                        dropped, port_));
}

void UdpReceiver::drainAndClose() {
  coalesceTimer_.cancel();
  while (!readBatches(64).dry) {
  }
  protocol_->finish(worker_.clock().monotonicMicros());
  wakeup_.close();
  ::close(fd_);
  fd_ = -1;
}

}  // namespace kinesyslog::net
